*** Settings ***
Documentation       A serial fuzz: ${FUZZ_FRAMES} corrupted frames (bit flips, truncations, oversize
...                 frames, bad CRCs, garbage before a frame), each answered as the protocol says;
...                 no corrupted frame accepted, every record of an intact sample the host's, and the
...                 firmware still answers after it all.
Resource            eenn.resource
Test Teardown       Stop Board


*** Variables ***
${FUZZ_FRAMES}      10000
${FUZZ_SEED}        0


*** Test Cases ***
Corrupted Frames Never Give A Wrong Result
    Start Board
    ${figures}=    Send Corrupted Frames    ${FUZZ_FRAMES}    seed=${FUZZ_SEED}
    Should Be Equal As Integers    ${figures}[frames]    ${FUZZ_FRAMES}
    Should Be Equal As Integers    ${figures}[wrong]    0
    Should Be True    ${figures}[error_replies] >= ${FUZZ_FRAMES}
    Should Be True    ${figures}[records] > 0
    Board Should Still Answer
    Test Split Should Run As On The Host

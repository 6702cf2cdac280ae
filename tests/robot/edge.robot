*** Settings ***
Documentation       A split image: stage 0 on ${BOARD}, the rest on `eenn edge` over the board's UART.
...                 Every sample ends as on the host, and the edge answered some.
Resource            eenn.resource
Test Teardown       Stop Board


*** Variables ***
# of the device's time: under QEMU one nanosecond per instruction
${EDGE_TIMEOUT_MS}      10


*** Test Cases ***
A Split Image Answers Through Eenn Edge
    ${url}=    Start Board    replay=${REPLAY}    split=1    edge_timeout_ms=${EDGE_TIMEOUT_MS}
    ${log}=    Set Variable    ${OUTPUT DIR}/edge.jsonl
    ${edge}=    Start Eenn    edge    ${url}    ${log}    --records    ${{ 3 * ${REPLAY} }}
    Eenn Should Have Ended Well    ${edge}
    ${figures}=    Log Should Match Host    ${log}
    Should Be True    ${figures}[compared] >= ${REPLAY}
    Should Be True    ${figures}[routes].get('edge', 0) > 0    the edge answered no offload: ${figures}

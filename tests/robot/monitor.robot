*** Settings ***
Documentation       `eenn monitor` on a replay image goes on across a restart of the board (QEMU killed
...                 and started again; a real board flashed again): it waits for the port, finds
...                 the stream again, and every record it compared is the host's.
Resource            eenn.resource
Test Teardown       Stop Board


*** Test Cases ***
Eenn Monitor Goes On Across A Restart
    ${url}=    Start Board    replay=${REPLAY}
    ${log}=    Set Variable    ${OUTPUT DIR}/monitor.jsonl
    ${monitor}=    Start Eenn    monitor    ${url}    ${log}
    Wait For Records In Log    ${log}    ${{ 2 * ${REPLAY} }}
    ${before}=    Log Should Match Host    ${log}
    Restart Board
    Wait For Records In Log    ${log}    ${{ ${before}[records] + 2 * ${REPLAY} }}
    Send Signal To Process    SIGINT    ${monitor}
    Eenn Should Have Ended Well    ${monitor}    timeout=30 s
    ${after}=    Log Should Match Host    ${log}
    Should Be True    ${after}[starts] > ${before}[starts]    no start seen after the restart: ${after}
    [Teardown]    Run Keywords    Terminate All Processes    AND    Stop Board

*** Settings ***
Documentation       Every exit decision mechanism, calibrated on the build's records as
...                 `eenn calibrate --mechanism` would, runs on ${BOARD} exactly as on the host:
...                 the temporal ones keep their state across the stream as the host simulator does.
Resource            eenn.resource
Suite Setup         Find The Mechanisms
Test Teardown       Stop Board


*** Test Cases ***
Every Decision Mechanism Answers As The Host
    [Template]    Mechanism Should Answer As The Host
    FOR    ${mechanism}    IN    @{MECHANISMS}
        ${mechanism}
    END


*** Keywords ***
Find The Mechanisms
    @{mechanisms}=    Decision Mechanisms
    Set Suite Variable    @{MECHANISMS}    @{mechanisms}

Mechanism Should Answer As The Host
    [Arguments]    ${mechanism}
    Use Decision    ${mechanism}
    Start Board
    Test Split Should Run As On The Host
    [Teardown]    Stop Board

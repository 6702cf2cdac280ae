*** Settings ***
Documentation       Every emulated board answers exactly as the host simulator: each record's exit,
...                 class and int8 probabilities, the exits taken and the accuracy, in no more
...                 than 5% over the instructions the cost model predicts (counted by QEMU). With
...                 ${PORT} set, the board on that port alone.
Resource            eenn.resource
Test Teardown       Stop Board


*** Test Cases ***
Every Board Answers As The Host
    @{boards}=    Boards Under Test
    FOR    ${board}    IN    @{boards}
        Run Keyword And Continue On Failure    Board Should Answer As The Host    ${board}
    END


*** Keywords ***
Board Should Answer As The Host
    [Arguments]    ${board}
    Start Board    ${board}
    Test Split Should Run As On The Host
    IF    not $PORT
        ${predicted}=    Predicted Instructions Per Inference
        Mean Instructions Per Inference Should Be Below    ${{ ${predicted} * 1.05 }}
    END
    [Teardown]    Stop Board

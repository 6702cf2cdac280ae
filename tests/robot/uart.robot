*** Settings ***
Documentation       The UART read as Renode's terminal tester reads it: every frame the firmware
...                 sends is a line, whoever asked for it; a line written is answered as a frame.
Resource            eenn.resource
Test Teardown       Stop Board


*** Test Cases ***
A Line That Is No Frame Gets An Error And Nothing Else
    Start Board
    Create Terminal Tester    timeout=10
    Write Line To Uart    hello
    Wait For Line On Uart    ^error (framing|crc|length)$    treatAsRegex=True
    Test If Uart Is Idle    1

Frames Asked For By Other Keywords Are Lines Too
    Start Board
    Create Terminal Tester
    Reset Stream
    Wait For Line On Uart    ack
    Run Test Split    5
    ${found}=    Wait For Line On Uart    ^record 4 exit (\\d+) class (\\d+) route device$    treatAsRegex=True
    Log    sample 4 left at exit ${found.groups}[0]

A Replay Image Says Which Pass It Runs
    [Documentation]    Each pass begins with an info frame and a text line, then a record per sample.
    Start Board    replay=${REPLAY}
    Create Terminal Tester    timeout=30
    Wait For Line On Uart    ^info board \\S+ build \\w+ model \\w+ stages \\d+    treatAsRegex=True
    ${pass}=    Wait For Line On Uart    ^replay pass (\\d+): ${REPLAY} test samples$    treatAsRegex=True
    Wait For Line On Uart    ^record 0 exit    treatAsRegex=True
    Wait For Line On Uart    replay pass ${{ int(${pass.groups}[0]) + 1 }}: ${REPLAY} test samples

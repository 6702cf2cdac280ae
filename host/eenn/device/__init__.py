"""Talking to a device running the firmware: the serial protocol, QEMU, the conformance run
against the host, the monitor of a running board, the edge host of a split EENN, run logs."""

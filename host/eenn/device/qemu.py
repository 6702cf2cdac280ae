"""Firmware under QEMU, reached through its UART on a local TCP port or a pseudo-terminal.

`Emulator` starts qemu-system-arm with `-icount shift=0` (SysTick then counts executed
instructions deterministically), connects a `link.Link` to the UART, and makes sure QEMU
does not outlive it.
"""

import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..errors import EennError
from .link import Link, LinkError

QEMU = "qemu-system-arm"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
CONNECT_SECONDS = 10.0
CYCLES_PER_INSTRUCTION = 1.0  # assumed when turning QEMU's instruction counts into cycles
FIRMWARE_STATUS = {3: "the firmware faulted", 4: "the firmware took an unexpected interrupt"}  # hal.h


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGKILL when eenn dies, however it dies
    (Linux's PR_SET_PDEATHSIG; elsewhere the emulator is ended by `close` only)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(elf: Path, machine: str, serial: str) -> list:
    """qemu-system-arm running `elf` on `machine` with its first UART on `serial`, counting
    instructions (-icount shift=0) and leaving with the firmware's semihosting exit status."""
    if shutil.which(QEMU) is None:
        raise EennError(f"{QEMU} not found: install the Debian package qemu-system-arm ('make setup')")
    return [QEMU, "-machine", machine, "-display", "none", "-monitor", "none", "-serial", serial,
            "-icount", "shift=0", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]


class Emulator:
    """QEMU running `elf` on `machine`, its first UART on a local TCP port (`serial="tcp"`, on
    `port` or a free one) or on a pseudo-terminal (`serial="pty"`, a real tty device); `.url`
    is what pyserial opens. With `connect`, `.link` talks to the UART and QEMU waits for it
    before starting the firmware; without, the UART is free for another program (a TCP server
    that accepts a new client after one leaves), and the firmware runs at once or, with `wait`,
    once the first client has connected (nothing it sends is lost)."""

    def __init__(self, elf: Path, machine: str, timeout: float = 10.0, serial: str = "tcp",
                 connect: bool = True, port: "int | None" = None, wait: bool = False):
        if serial == "tcp":
            self.port = port or free_port()
            spec = f"tcp:127.0.0.1:{self.port},server=on,wait={'on' if connect or wait else 'off'},nodelay=on"
            self.url = f"socket://127.0.0.1:{self.port}"
        elif serial == "pty":
            spec = "pty"
        else:
            raise ValueError(f"serial must be tcp or pty, not {serial!r}")
        self._output = ""
        self.link = None
        self.process = subprocess.Popen(qemu_command(elf, machine, spec), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        preexec_fn=_die_with_parent)
        try:
            if serial == "pty":
                self.url = self._pty_path()
            if connect:
                self.link = self.open_link(timeout)
        except BaseException:
            self.close()
            raise

    def _pty_path(self) -> str:
        """The pseudo-terminal QEMU opened, from the line it prints at start-up."""
        deadline = time.monotonic() + CONNECT_SECONDS
        while time.monotonic() < deadline:
            if select.select([self.process.stdout], [], [], 0.1)[0]:
                line = self.process.stdout.readline().decode(errors="replace")
                found = re.search(r"char device redirected to (\S+)", line)
                if found:
                    return found.group(1)
                if not line:
                    break
        raise EennError(f"QEMU did not open a pseudo-terminal (status {self.process.poll()}): {self.output()}")

    def open_link(self, timeout: float = 10.0) -> Link:
        """A Link to the UART, once QEMU listens on it (it may still be starting)."""
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise EennError(f"QEMU exited with status {self.process.returncode}: {self.output()}")
            try:
                return Link(self.url, timeout=timeout)
            except LinkError:
                if time.monotonic() > deadline:
                    raise EennError(f"QEMU did not open its UART port within {CONNECT_SECONDS:.0f} s") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """Stop QEMU at once, as a board that loses power or is unplugged."""
        self.process.kill()
        self.process.wait()

    def output(self) -> str:
        """The end of what QEMU printed (once it has exited)."""
        if self.process.poll() is None:
            return ""
        if self.process.stdout is not None and not self.process.stdout.closed:
            self._output = self.process.stdout.read().decode(errors="replace").strip()[-500:]
            self.process.stdout.close()
        return self._output

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        self.close()
        status = self.process.returncode
        if isinstance(error, LinkError) and status not in (0, -signal.SIGTERM):
            meaning = FIRMWARE_STATUS.get(status, "stopped")
            raise EennError(f"{error}; QEMU exited with status {status} ({meaning}): {self.output()}") from None

"""Firmware under QEMU, reached through its UART on a local TCP port.

`Emulator` starts qemu-system-arm with `-icount shift=0` (SysTick then counts executed
instructions deterministically), connects a `link.Link` to the UART, and makes sure QEMU
does not outlive it. `run` streams a build's test samples through any link and holds every
answer against the host simulator's records.
"""

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EennError
from .link import Link, LinkError
from .decisions import DecisionSpec, simulate

QEMU = "qemu-system-arm"
CONNECT_SECONDS = 10.0
FIRMWARE_STATUS = {3: "the firmware faulted", 4: "the firmware took an unexpected interrupt"}  # hal.h


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
    """QEMU running `elf` on `machine`; `.link` talks to its first UART."""

    def __init__(self, elf: Path, machine: str, timeout: float = 10.0):
        self.port = free_port()
        command = qemu_command(elf, machine, f"tcp:127.0.0.1:{self.port},server=on,wait=on,nodelay=on")
        self._output = ""
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        try:
            self.link = self._connect(timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self, timeout: float) -> Link:
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise EennError(f"QEMU exited with status {self.process.returncode}: {self.output()}")
            try:
                return Link(f"socket://127.0.0.1:{self.port}", timeout=timeout)
            except LinkError:
                if time.monotonic() > deadline:
                    raise EennError(f"QEMU did not open its UART port within {CONNECT_SECONDS:.0f} s") from None
                time.sleep(0.05)

    def output(self) -> str:
        """The end of what QEMU printed (once it has exited)."""
        if self.process.poll() is None:
            return ""
        if self.process.stdout is not None and not self.process.stdout.closed:
            self._output = self.process.stdout.read().decode(errors="replace").strip()[-500:]
            self.process.stdout.close()
        return self._output

    def close(self) -> None:
        link = getattr(self, "link", None)
        if link is not None:
            link.close()
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


CYCLES_PER_INSTRUCTION = 1.0  # assumed when turning QEMU's instruction counts into cycles
PERIPHERAL_TIMER_HZ = {"nrf-timer": 16_000_000}


@dataclass(frozen=True)
class RunResult:
    samples: int
    differences: list  # one line per sample whose record differs from the host simulator
    exit_histogram: list
    accuracy: "float | None"
    mean_cost: float  # per inference, in cost_unit
    cost_unit: str
    board: str
    build_id: str


def run(link: Link, manifest: dict, records, model_digest: bytes, samples: "int | None" = None,
        progress: bool = False, decision: "DecisionSpec | None" = None) -> RunResult:
    """Send `samples` of the records' inputs (all by default) as one stream and compare every
    answer with the host simulator (the build's decision, or `decision`, which the firmware
    must have been built with): exit taken, class and that exit's int8 probabilities."""
    if records.inputs is None:
        raise EennError("these records keep no inputs; run 'eenn build' again")
    info = link.connect()
    if info.model_digest != model_digest:
        raise EennError(f"the device runs another model (digest {info.model_digest.hex()[:16]}, "
                        f"expected {model_digest.hex()[:16]}): rebuild and reload its firmware")
    n = len(records.inputs) if samples is None else min(samples, len(records.inputs))
    spec = decision or DecisionSpec.from_dict(manifest["decision"]["spec"])
    expected_exit, expected_class = simulate(spec, records.probs[:n])  # the samples as one stream
    link.reset()
    indices = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"{info.board}", unit="sample", leave=False)
    differences, exits, costs, correct = [], [], [], 0
    for i in indices:
        r = link.infer(i, records.inputs[i], info.classes)
        k, c = int(expected_exit[i]), int(expected_class[i])
        want = records.probs[i, k]
        if r.exit != k or r.predicted != c or not np.array_equal(r.probs, want):
            differences.append(f"sample {i}: device exit {r.exit} class {r.predicted} probs {r.probs.tolist()}; "
                               f"host exit {k} class {c} probs {want.tolist()}")
        exits.append(r.exit)
        costs.append(sum(r.cost))
        correct += int(r.predicted == records.labels[i])
    labelled = bool(np.all(records.labels[:n] >= 0))
    return RunResult(n, differences, np.bincount(exits, minlength=info.stages).tolist(),
                     correct / n if labelled and n else None, float(np.mean(costs)) if costs else 0.0,
                     info.cost_unit, info.board, info.build_id)


def estimate(board, result: RunResult, emulated: bool) -> dict:
    """The real board's latency and energy per inference from the measured mean cost."""
    instructions = None
    if emulated:
        instructions = result.mean_cost * 1e9 / board.emulation.systick_hz  # icount: 1 ns per instruction
        cycles = instructions * CYCLES_PER_INSTRUCTION
    else:
        ticks_per_cycle = PERIPHERAL_TIMER_HZ.get(board.cost.counter, board.clock_hz) / board.clock_hz
        cycles = result.mean_cost / ticks_per_cycle  # DWT and SysTick count core cycles
    seconds, energy = board.latency_energy(cycles)
    return {"instructions": instructions, "cycles": cycles, "latency_s": seconds,
            "energy_j": energy, "emulated": emulated,
            "cycles_per_instruction": CYCLES_PER_INSTRUCTION if emulated else None}

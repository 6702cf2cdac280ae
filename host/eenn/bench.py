"""Instructions per stage under QEMU: the benchmark image (firmware_templates/firmware/bench.c).

`measure(stages, board)` generates the C of `stages` (a list of (file name, .tflite bytes),
as for `codegen.generate`), links it into the benchmark image for the board's emulated
machine, runs it with instruction counting and returns the instructions one run of each
stage takes. Under `-icount shift=0` one instruction is one nanosecond of virtual time,
so a SysTick of f Hz ticks every 1e9 / f instructions.
"""

import re
import subprocess
import tempfile
from pathlib import Path

from . import boards, codegen, firmware
from .emulate import FIRMWARE_STATUS, qemu_command
from .errors import EennError

RUN_SECONDS = 120.0
LINE = re.compile(r"stage (\d+) (\d+) (\d+)")


def instructions_per_tick(board: boards.Board) -> float:
    return 1e9 / board.emulation.systick_hz


def run(elf: Path, board: boards.Board, stages: int) -> list:
    """Run a benchmark image; the instructions of one run of each of its `stages` stages."""
    command = qemu_command(elf, board.emulation.machine, "stdio")
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        raise EennError(f"the benchmark on {board.emulation.machine} did not finish within {RUN_SECONDS:.0f} s") from None
    if done.returncode:
        meaning = FIRMWARE_STATUS.get(done.returncode, "stopped")
        raise EennError(f"the benchmark on {board.emulation.machine} exited with status {done.returncode} "
                        f"({meaning}): {done.stderr.strip()[-300:]}")
    counts = {int(k): (int(runs), int(ticks)) for k, runs, ticks in LINE.findall(done.stdout)}
    if sorted(counts) != list(range(stages)):
        raise EennError(f"the benchmark printed {len(counts)} of {stages} stage lines: {done.stdout[-300:]!r}")
    scale = instructions_per_tick(board)
    return [counts[k][1] * scale / counts[k][0] for k in range(stages)]


def measure(stages: list, board: boards.Board, work: "Path | None" = None) -> list:
    """Instructions of one run of each stage on the board's emulated core."""
    if board.emulation is None:
        raise EennError(f"board {board.name} has no emulation entry")
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        src = codegen.generate(stages, Path(tmp) / "src", "benchmark").directory
        elf = firmware.build_benchmark(src, board, Path(tmp) / "image")
        return run(elf, board, len(stages))

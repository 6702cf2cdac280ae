"""Instructions per stage under QEMU: the benchmark image (firmware_templates/firmware/bench.c).

`measure(stages, board)` generates the C of `stages` (a list of (file name, .tflite bytes),
as for `emit.generate`), links it into the benchmark image for the board's emulated
machine, runs it with instruction counting and returns the instructions one run of each
stage takes. Under `-icount shift=0` one instruction is one nanosecond of virtual time,
so a SysTick of f Hz ticks every 1e9 / f instructions. With `check`, the image's hashes of
each stage's outputs (one chained run from a pseudo-random arena) must equal those of the
same C compiled for the host: the board's instructions compute what the host computes.
"""

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..codegen import emit
from ..device.qemu import FIRMWARE_STATUS, qemu_command
from ..errors import EennError
from ..firmware import hostrun, image
from ..hardware import boards

RUN_SECONDS = 120.0
LINE = re.compile(r"stage (\d+) (\d+) (\d+)")
CHECK = re.compile(r"check (\d+) (\d+)")


def instructions_per_tick(board: boards.Board) -> float:
    return 1e9 / board.emulation.systick_hz


def run(elf: Path, board: boards.Board, stages: int) -> tuple:
    """Run a benchmark image: the instructions of one run of each of its `stages` stages, and
    the hash of each stage's outputs."""
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
    hashes = dict(CHECK.findall(done.stdout))
    return [counts[k][1] * scale / counts[k][0] for k in range(stages)], [int(hashes[str(k)]) for k in range(stages)]


def _fnv1a(hash_value: int, data: np.ndarray) -> int:
    for byte in data.view(np.uint8).tolist():
        hash_value = ((hash_value ^ byte) * 16777619) & 0xFFFFFFFF
    return hash_value


def pseudo_random_arena(size: int) -> np.ndarray:
    """The arena as the benchmark image fills it before its check run (xorshift32)."""
    values, state = np.empty(size, np.uint8), 0x2545F491
    for i in range(size):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        values[i] = state & 0xFF
    return values


def check_hash(exit_output: np.ndarray, boundary: np.ndarray) -> int:
    """The "check" hash the benchmark image prints for a stage: FNV-1a of its exit's output, then its boundary."""
    return _fnv1a(_fnv1a(2166136261, exit_output), boundary)


def host_hashes(generated, build_dir: Path) -> list:
    """What the benchmark image prints as "check" hashes, from the same C run on the host."""
    host = hostrun.HostModel(generated, build_dir)
    np.frombuffer(host.arena, np.uint8)[:] = pseudo_random_arena(len(host.arena))
    hashes = []
    for stage in generated.stages:
        host.lib.eenn_run_stage(stage.index, host.base)
        hashes.append(check_hash(host.view(stage.exit_offset, stage.exit_bytes),
                                 host.view(stage.boundary_offset, stage.boundary_bytes)))
    return hashes


def measure(stages: list, board: boards.Board, work: "Path | None" = None, check: bool = False) -> list:
    """Instructions of one run of each stage on the board's emulated core; with `check`,
    raises EennError unless the core's outputs equal the host's."""
    if board.emulation is None:
        raise EennError(f"board {board.name} has no emulation entry")
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        generated = emit.generate(stages, Path(tmp) / "src", "benchmark")
        elf = image.build_benchmark(generated.directory, board, Path(tmp) / "image")
        instructions, hashes = run(elf, board, len(stages))
        if check:
            expected = host_hashes(generated, Path(tmp))
            differ = [k for k in range(len(stages)) if hashes[k] != expected[k]]
            if differ:
                raise EennError(f"on {board.emulation.machine}, the outputs of stage(s) {differ} differ from the "
                                f"host's run of the same C")
        return instructions

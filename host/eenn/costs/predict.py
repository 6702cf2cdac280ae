"""The cost model, used: instructions per kernel call on each CPU from its table (fitted by
eenn.costs.fit), and what a generated model costs on a board.

A kernel's instruction count is linear in a few counts of its call (eenn.codegen.features: MACs
done, window taps visited, outputs written, ...); a CPU's table, boards/cpus/<cpu>.toml,
holds the coefficients with the digest of the sources it was measured for, and `load(cpu)`
refuses a table whose kernels have changed since. `stage_instructions` and `expected` give a
generated model's cost on a board: per stage, and per inference given how often each exit is
taken.

QEMU counts instructions, not cycles: cycles are instructions x CYCLES_PER_INSTRUCTION, an
assumption until a board's DWT counter measures them.
"""

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import emit, kernels
from ..codegen.features import FEATURES
from ..decision import mechanisms
from ..device.qemu import CYCLES_PER_INSTRUCTION
from ..errors import EennError
from ..firmware import image
from ..hardware import boards

CPU_DIR = boards.BOARDS_DIR / "cpus"


@dataclass(frozen=True)
class Table:
    cpu: str
    measured_on: str  # the board whose emulated core was timed
    digest: str  # of the kernel sources and compiler flags the figures hold for
    kernels: dict  # kernel -> {feature: instructions per unit}
    errors: dict  # kernel -> largest relative error of the fit over the measured layers

    def instructions(self, kernels: list) -> float:
        """Instructions of a stage, given its stage_kernels()."""
        total = 0.0
        for k in kernels:
            coefficients = self.kernels.get(k["kernel"])
            if coefficients is None:
                raise EennError(f"the {self.cpu} cost table has no figures for {k['kernel']}: run 'make costs'")
            total += sum(coefficients[name] * k["features"][name] for name in coefficients)
        return total


def measuring_board(cpu: str) -> boards.Board:
    """The board whose emulated core stands for `cpu`: preferably the emulated machine itself."""
    candidates = [b for b in boards.all_boards() if b.cpu == cpu and b.emulation is not None]
    if not candidates:
        raise EennError(f"no board with an emulated {cpu}; known CPUs: {', '.join(cpus())}")
    return min(candidates, key=lambda b: b.name != b.emulation.machine)


def cpus() -> list:
    return sorted({b.cpu for b in boards.all_boards() if b.emulation is not None})


def sources_digest(board: boards.Board) -> str:
    """What the figures depend on: the kernel files the board's path compiles and the headers
    they include, the stage template, bench.c and the compiler flags."""
    digest = hashlib.sha256(" ".join([*board.cflags, *image.CFLAGS, *kernels.defines(board.kernels)]).encode())
    files = {p.name: p for p in emit.KERNELS.rglob("*.c")}
    compiled = [*sorted(emit.KERNELS.glob("shared/*.c")),
                *(files[name] for name in sorted(set(kernels.chosen(board.kernels).values())))]
    paths = [*kernels.headers(compiled), *compiled, emit.TEMPLATES / "eenn_stage.c.j2", image.SOURCES / "bench.c"]
    for path in paths:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def table_path(cpu: str) -> Path:
    return CPU_DIR / f"{cpu}.toml"


def load(cpu: str, current: bool = True) -> Table:
    """The CPU's table; with `current`, refused unless measured for today's kernel sources,
    counts and flags."""
    path = table_path(cpu)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise EennError(f"no cost table for {cpu} ({path}): run 'make costs'") from None
    except tomllib.TOMLDecodeError as e:
        raise EennError(f"{path}: {e}") from None
    try:
        board = boards.get(raw["measured_on"])
        kernels = {k: v["coefficients"] for k, v in raw["kernels"].items()}
        errors = {k: v["max_error"] for k, v in raw["kernels"].items()}
        digest = raw["digest"]
    except (KeyError, TypeError, AttributeError) as e:
        raise EennError(f"{path}: not a cost table (missing {e}): run 'make costs'") from None
    counted = {k: set(c) for k, c in kernels.items()} == {k: set(f) for k, f in FEATURES.items()}
    if current and (digest != sources_digest(board) or not counted):
        raise EennError(f"{path} was measured for other kernels, counts or compiler flags: run 'make costs'")
    return Table(cpu, board.name, digest, kernels, errors)


def stage_instructions(board: boards.Board, code) -> list:
    """Predicted instructions of each stage of a generated model (its artifact.CodeSummary) on the board's CPU."""
    table = load(board.cpu)
    return [table.instructions(s.kernels) for s in code.stages]


def expected(exit_histogram: list, per_stage: list) -> float:
    """Mean cost per inference: the sum over exits of P(exit k) x the cost of stages 0..k."""
    counts = np.asarray(exit_histogram, np.float64)
    return float(counts @ np.cumsum(per_stage) / counts.sum())


def on_board(board: boards.Board, instructions: float) -> dict:
    """Instructions as cycles, latency and energy on the board."""
    cycles = instructions * CYCLES_PER_INSTRUCTION
    seconds, energy = board.latency_energy(cycles)
    return {"instructions": instructions, "cycles": cycles, "latency_s": seconds, "energy_j": energy}


def model_costs(build, board: boards.Board) -> dict:
    """A build's cost on the board (an artifact.Build, generated): per stage (MACs, constants,
    arena, predicted instructions) and per inference, with the exits its decision takes on the
    calibration split."""
    m = build.manifest
    code = build.code()
    per_stage = stage_instructions(board, code)
    histogram = mechanisms.evaluate(build.records("calib"), m.decision.spec, m.cumulative_macs,
                                    m.full_model_macs)["exit_histogram"]
    stages = [{"macs": s.macs, "weight_bytes": s.weight_bytes, "arena_bytes": s.arena_bytes, "instructions": n}
              for s, n in zip(code.stages, per_stage)]
    return {"board": board.name, "cpu": board.cpu, "stages": stages, "exit_histogram": histogram,
            "expected": on_board(board, expected(histogram, per_stage)), "all_stages": on_board(board, sum(per_stage))}

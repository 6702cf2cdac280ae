"""The cost model: instructions per kernel call on each CPU, from figures measured once.

A kernel's instruction count is linear in a few counts of its call (eenn.codegen.features: MACs
done, window taps visited, outputs written, ...). `measure` times a fixed set of single
layers (FITTING) on the CPU's emulated core (eenn.costs.timing) and fits the coefficients,
non-negative, per kernel; the result is the CPU's table, boards/cpus/<cpu>.toml, committed
with the digest of the sources it holds for. `load(cpu)` refuses a table whose kernels
have changed since. `stage_instructions` and `expected` give a generated model's cost on
a board: per stage, and per inference given how often each exit is taken.

QEMU counts instructions, not cycles: cycles are instructions x CYCLES_PER_INSTRUCTION, an
assumption until a board's DWT counter measures them.
"""

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w
from scipy.optimize import nnls

from ..codegen import emit, singleop
from ..codegen.features import FEATURES, features
from ..decision import mechanisms
from ..device.qemu import CYCLES_PER_INSTRUCTION
from ..errors import EennError
from ..firmware import image
from ..hardware import boards
from ..util import atomic
from . import timing

CPU_DIR = boards.BOARDS_DIR / "cpus"


# ---- the fitting set ---------------------------------------------------------------------

def _fitting_layers() -> list:
    """Single layers whose counts vary independently; each fits the 16 KB of RAM of the M0 board."""
    conv = [((8, 8), 1, 4, (3, 3), 1, "SAME"), ((8, 8), 3, 8, (3, 3), 1, "SAME"), ((8, 8), 8, 8, (3, 3), 1, "SAME"),
            ((8, 8), 16, 16, (1, 1), 1, "VALID"), ((8, 8), 8, 16, (3, 3), 2, "SAME"), ((6, 6), 32, 8, (3, 3), 1, "VALID"),
            ((10, 10), 4, 4, (5, 5), 1, "SAME"), ((4, 4), 64, 16, (1, 1), 1, "VALID"), ((12, 12), 2, 8, (3, 3), 1, "SAME"),
            ((16, 16), 8, 8, (3, 3), 1, "SAME"), ((1, 16), 8, 8, (1, 3), 1, "SAME"), ((8, 8), 16, 32, (3, 3), 1, "SAME")]
    depthwise = [((8, 8), 8, 8, (3, 3), 1, "SAME"), ((8, 8), 16, 16, (3, 3), 2, "SAME"),
                 ((16, 16), 8, 8, (3, 3), 1, "VALID"), ((6, 6), 32, 32, (5, 5), 1, "SAME"),
                 ((10, 10), 4, 8, (3, 3), 1, "SAME"), ((12, 12), 16, 16, (3, 3), 1, "SAME"),
                 ((4, 4), 64, 64, (3, 3), 1, "SAME"), ((8, 8), 1, 1, (3, 3), 1, "SAME"),
                 ((1, 32), 16, 16, (1, 5), 1, "SAME"), ((16, 16), 2, 2, (7, 7), 1, "SAME"),
                 ((9, 9), 12, 12, (3, 3), 1, "SAME"), ((7, 7), 24, 24, (3, 3), 2, "SAME"),
                 ((20, 4), 8, 8, (3, 3), 1, "SAME"), ((5, 5), 48, 48, (3, 3), 1, "VALID"),
                 ((6, 6), 3, 3, (3, 3), 1, "SAME"), ((10, 10), 6, 6, (5, 5), 1, "SAME")]
    dense = [(16, 4), (64, 10), (256, 10), (64, 64), (128, 32), (32, 128), (512, 8), (8, 8), (1024, 4), (100, 1),
             (30, 7), (250, 3)]
    pools = [((8, 8), 8, (2, 2), 2, "VALID"), ((16, 16), 8, (2, 2), 2, "VALID"), ((8, 8), 16, (3, 3), 1, "SAME"),
             ((12, 12), 4, (3, 3), 2, "VALID"), ((6, 6), 32, (2, 2), 2, "VALID"), ((9, 9), 8, (3, 3), 3, "VALID"),
             ((16, 16), 1, (2, 2), 2, "VALID"), ((5, 5), 64, (5, 5), 1, "VALID")]
    spatial = [((8, 8), 8), ((4, 4), 32), ((16, 16), 4), ((2, 2), 64), ((1, 1), 16), ((10, 10), 16), ((3, 3), 1)]
    result = [singleop.conv2d(size, cin, cout, k, s, pad) for size, cin, cout, k, s, pad in conv]
    result += [singleop.conv2d(size, cin, cout, k, s, pad, depthwise=True) for size, cin, cout, k, s, pad in depthwise]
    result += [singleop.fully_connected(n, m) for n, m in dense]
    for kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        result += [singleop.pool(kind, size, c, k, s, pad) for size, c, k, s, pad in pools]
    result += [singleop.mean(size, c) for size, c in spatial]
    result += [singleop.add(size, c) for size, c in spatial]
    result += [singleop.softmax(depth, rows) for depth, rows in [(10, 1), (2, 1), (40, 1), (100, 1), (10, 4), (3, 16)]]
    return result


FITTING = tuple(_fitting_layers())


# ---- tables ------------------------------------------------------------------------------

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
    """What the figures depend on: the kernels, the stage template, bench.c and the compiler flags."""
    digest = hashlib.sha256(" ".join([*board.cflags, *image.CFLAGS]).encode())
    paths = [*sorted(emit.KERNELS.rglob("*.[ch]")), emit.TEMPLATES / "eenn_stage.c.j2",
             image.SOURCES / "bench.c"]
    for path in paths:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def table_path(cpu: str) -> Path:
    return CPU_DIR / f"{cpu}.toml"


def load(cpu: str) -> Table:
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
    if digest != sources_digest(board) or not counted:
        raise EennError(f"{path} was measured for other kernels, counts or compiler flags: run 'make costs'")
    return Table(cpu, board.name, digest, kernels, errors)


def fit(kernel: str, rows: list, measured: list) -> "tuple[dict, float]":
    """Non-negative coefficients of FEATURES[kernel] and the fit's largest relative error."""
    names = FEATURES[kernel]
    a = np.array([[row[n] for n in names] for row in rows], np.float64)
    y = np.asarray(measured, np.float64)
    scale = a.max(axis=0)  # columns of one magnitude for the solver
    solution, _ = nnls(a / scale / y[:, None], np.ones_like(y))  # least squares in relative error
    coefficients = solution / scale
    error = float(np.max(np.abs(a @ coefficients - y) / y))
    return {n: float(c) for n, c in zip(names, coefficients)}, error


def measure(cpu: str, fitting: tuple = FITTING, progress: bool = False) -> "tuple[Table, list]":
    """Time the `fitting` layers on the CPU's emulated core and fit a table for the kernels they
    call; also the (layer, kernel, features, instructions) of every layer measured."""
    board = measuring_board(cpu)
    timed = fitting
    if progress:
        from tqdm import tqdm

        timed = tqdm(fitting, desc=f"{cpu} on {board.emulation.machine}", unit="layer", leave=False)
    samples = []
    for layer in timed:
        (instructions,) = timing.measure([(f"{layer.kind.lower()}.tflite", layer.tflite)], board)
        samples.append((layer, layer.call.function, features(layer.call), instructions))
    kernels, errors = {}, {}
    for kernel in sorted({k for _, k, _, _ in samples}):
        chosen = [(f, n) for _, k, f, n in samples if k == kernel]
        kernels[kernel], errors[kernel] = fit(kernel, [f for f, _ in chosen], [n for _, n in chosen])
    return Table(cpu, board.name, sources_digest(board), kernels, errors), samples


def plot(measured: dict, path: Path) -> None:
    """Predicted against measured instructions of every layer timed, one colour per CPU."""
    from ..util import plots

    fig, ax = plots.figure(6, 5)
    for cpu, (table, samples) in measured.items():
        got = [n for *_, n in samples]
        predicted = [table.instructions([{"kernel": k, "features": f}]) for _, k, f, _ in samples]
        worst = max(table.errors.values())
        ax.scatter(got, predicted, s=12, label=f"{cpu} (largest error {100 * worst:.1f}%)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo, hi = ax.get_xlim()
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    plots.save(fig, ax, path, "Cost model: single layers under QEMU", "measured instructions",
               "predicted instructions", loc="upper left")


def save(table: Table) -> Path:
    doc = {"cpu": table.cpu, "measured_on": table.measured_on, "digest": table.digest,
           "kernels": {k: {"max_error": round(table.errors[k], 4),
                           "coefficients": {n: round(c, 4) for n, c in table.kernels[k].items()}}
                       for k in table.kernels}}
    header = (f"# Instructions per kernel call on the {table.cpu}, timed under QEMU ({table.measured_on}) and fitted\n"
              "# by 'make costs' (eenn costs). Do not edit: re-measure when the kernels change.\n")
    path = table_path(table.cpu)
    atomic.write_text(path, header + tomli_w.dumps(doc))
    return path


# ---- a generated model on a board ---------------------------------------------------------

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

"""The cost model, fitted: `measure` times a fixed set of single layers (FITTING) on a CPU's
emulated core (eenn.costs.timing) and fits each kernel's coefficients, non-negative, in
relative error; `save` writes the CPU's table, boards/cpus/<cpu>.toml (`eenn costs`)."""

from pathlib import Path

import numpy as np
import tomli_w
from scipy.optimize import nnls

from ..codegen import singleop
from ..codegen.features import FEATURES, features
from ..errors import EennError
from ..util import atomic, plots
from . import predict, timing
from .predict import Table, measuring_board, sources_digest, table_path


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
    result += [singleop.add(size, c, kind, broadcast) for size, c in spatial for kind in ("ADD", "SUB")
               for broadcast in (False, True)]
    result += [singleop.maximum_minimum(kind, size, c, broadcast) for kind in ("MAXIMUM", "MINIMUM")
               for size, c in spatial for broadcast in (False, True)]
    result += [singleop.pad(size, c, before, after) for size, c in spatial for before, after in [(1, 1), (0, 2)]]
    result += [singleop.reduce_max(size, c) for size, c in spatial]
    result += [singleop.crop(size, c, before, after) for size, c in spatial[:3] + spatial[5:6]
               for before, after in [(1, 1), (0, 2)]]
    result += [singleop.upsample(size, c, factor) for size, c in spatial[:4] for factor in (2, 3)]
    result += [singleop.transpose_conv(size, cin, cout, k, s, pad) for size, cin, cout, k, s, pad in [
        ((4, 4), 8, 8, (3, 3), 2, "SAME"), ((4, 4), 4, 8, (2, 2), 2, "VALID"), ((6, 6), 8, 4, (3, 3), 1, "SAME"),
        ((1, 16), 8, 8, (1, 3), 2, "SAME"), ((3, 3), 16, 16, (4, 4), 2, "SAME"), ((5, 5), 2, 3, (3, 3), 3, "VALID"),
        ((8, 8), 4, 4, (1, 1), 1, "VALID"), ((2, 2), 32, 8, (3, 3), 2, "SAME"), ((6, 6), 1, 16, (5, 5), 1, "SAME"),
        ((4, 4), 8, 2, (2, 2), 2, "SAME"), ((1, 32), 4, 4, (1, 5), 1, "SAME"), ((3, 3), 4, 12, (3, 3), 3, "SAME"),
        ((5, 5), 16, 1, (1, 1), 2, "VALID"), ((4, 4), 3, 3, (4, 4), 1, "VALID")]]
    result += [singleop.logistic(size, c) for size, c in spatial]
    result += [singleop.mul(size, c, broadcast) for size, c in spatial for broadcast in (False, True)]
    result += [singleop.concatenation(shape, sizes) for shape, sizes in [
        ((1, 8, 8, 4), (4, 4)), ((1, 16, 8), (8, 8)), ((1, 4, 4, 16), (16, 8, 8)), ((1, 64, 2), (2, 2)),
        ((1, 2, 2, 32), (32, 32)), ((1, 10), (10, 20)), ((1, 32, 3), (3, 5, 1, 7))]]
    result += [singleop.softmax(depth, rows) for depth, rows in [(10, 1), (2, 1), (40, 1), (100, 1), (10, 4), (3, 16)]]
    return result


FITTING = tuple(_fitting_layers())


def fit_kernel(kernel: str, rows: list, measured: list) -> "tuple[dict, float]":
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
        kernels[kernel], errors[kernel] = fit_kernel(kernel, [f for f, _ in chosen], [n for _, n in chosen])
    return Table(cpu, board.name, sources_digest(board), kernels, errors), samples


def refit(cpu: str, kernels: tuple, progress: bool = False) -> "tuple[Table, list]":
    """The CPU's table with the figures of `kernels` measured again (their FITTING layers only)
    and the others kept: for a change of a kernel's counts, not of any source (a table for other
    sources is refused: re-measure it whole)."""
    current = predict.load(cpu, current=False)
    if current.digest != sources_digest(measuring_board(cpu)):
        raise EennError(f"the {cpu} table was measured for other kernel sources or flags: run 'make costs'")
    unknown = sorted(set(kernels) - set(FEATURES))
    if unknown:
        raise EennError(f"no kernel {', '.join(unknown)}; the kernels are {', '.join(sorted(FEATURES))}")
    table, samples = measure(cpu, tuple(layer for layer in FITTING if layer.call.function in kernels), progress)
    return Table(cpu, current.measured_on, current.digest, {**current.kernels, **table.kernels},
                 {**current.errors, **table.errors}), samples


def plot(measured: dict, path: Path) -> None:
    """Predicted against measured instructions of every layer timed, one colour per CPU."""
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

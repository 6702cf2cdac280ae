"""Where to split an EENN between the device and an edge host.

For each split point (stages before it on the device, the rest on the edge host; or none),
the device's expected energy and latency per inference: the stages it runs, from the cost
model, with the exits the certified decision takes on the calibration split, plus, for the
share of samples no device exit lets leave, sending the boundary tensor and receiving the
answer over a link (boards/links/<link>.toml). The recommendation is the split with the
least expected device energy whose worst-case latency stays within a bound. A project that
names a link ([deployment] link) has its firmware split so (`deployed`).
"""

import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import protocol
from ..costs import predict
from ..errors import EennError
from ..hardware import boards, links
from ..hardware.links import LinkProfile
from ..util import atomic, plots, tables


@dataclass(frozen=True)
class Option:
    split: "int | None"  # the first stage on the edge host; None: every stage on the device
    sent_share: float  # of samples, offloaded
    sent_bytes: int  # per offload, on the wire
    received_bytes: int
    compute_j: float  # expected per inference
    link_j: float  # expected per inference
    latency_s: float  # expected per inference
    worst_latency_s: float  # of the slowest sample

    @property
    def energy_j(self) -> float:
        return self.compute_j + self.link_j

    @property
    def label(self) -> str:
        return "none" if self.split is None else f"before stage {self.split}"


def options(build, board: boards.Board, link: LinkProfile) -> list:
    """Every split of `build` (an artifact.Build, generated) for `board` over `link`, and no split."""
    if board.power is None:
        raise EennError(f"board {board.name} has no power figure: the device's energy cannot be estimated")
    manifest = build.manifest
    model = predict.model_costs(build, board)
    cycles = np.cumsum([predict.on_board(board, s["instructions"])["cycles"] for s in model["stages"]])
    exits = np.asarray(model["exit_histogram"], np.float64)
    exits /= exits.sum()
    power_w = board.power.active_mw * 1e-3
    classes = manifest.num_classes
    found = []
    for split in [*range(1, len(cycles)), None]:
        here = len(cycles) if split is None else split
        device_cycles = float(exits @ cycles[np.minimum(np.arange(len(cycles)), here - 1)])
        sent_share = float(exits[here:].sum())
        sent = received = 0
        exchange_s = link_j = 0.0
        if split is not None:
            boundary = int(np.prod(manifest.stages[split].input.shape))
            sent = protocol.frame_bytes(struct.calcsize(protocol.OFFLOAD_FIELDS) + boundary)
            received = protocol.frame_bytes(struct.calcsize(protocol.ANSWER_FIELDS) + classes * (len(cycles) - split))
            exchange_s = link.seconds(sent, received)
            per_offload_j = (exchange_s * power_w + sent / link.bytes_per_s * link.tx_mw * 1e-3
                             + received / link.bytes_per_s * link.rx_mw * 1e-3)
            link_j = sent_share * per_offload_j
        worst = cycles[here - 1] / board.clock_hz + exchange_s
        found.append(Option(split, sent_share, sent, received, device_cycles / board.clock_hz * power_w, link_j,
                            device_cycles / board.clock_hz + sent_share * exchange_s, worst))
    return found


@dataclass(frozen=True)
class Partition:
    """The splits of a build for a board over a link, the one chosen, and where its table went."""

    options: list
    chosen: Option
    text: str
    stem: Path  # partition-<board>-<link>, beside the build: .txt and .png


def report(build, board: boards.Board, link: LinkProfile, max_latency_ms: "float | None" = None) -> Partition:
    """Every split of `build` for `board` over `link`, and the one to choose: the table as text,
    written with its plot beside the build (partition-<board>-<link>.txt and .png)."""
    bound = None if max_latency_ms is None else max_latency_ms * 1e-3
    found = options(build, board, link)
    chosen = recommend(found, bound)
    title = f"{build.name} on {board.name} over {link.name}"
    text = "\n".join([
        f"{title}: {link.description}",
        table(found, chosen),
        f"recommended: split {chosen.label} ({1e6 * chosen.energy_j:.1f} uJ per inference on the device"
        + (f", every sample within {max_latency_ms:g} ms)" if bound else ")"),
    ])
    stem = build.directory / f"partition-{board.name}-{link.name}"
    atomic.write_text(stem.with_suffix(".txt"), text + "\n")
    plot(found, chosen, stem.with_suffix(".png"), title, bound)
    return Partition(found, chosen, text, stem)


def deployed(build, board: boards.Board, deployment) -> "tuple[object, str | None]":
    """`deployment` (a project.DeploymentConfig) with its split chosen by `report` when it names
    a link, and a line saying what was chosen (None when it names none)."""
    if deployment.link is None:
        return deployment, None
    found = report(build, board, links.load(deployment.link), deployment.max_latency_ms)
    choice, alone = found.chosen, found.options[-1]
    bound = "" if deployment.max_latency_ms is None else f", every sample within {deployment.max_latency_ms:g} ms"
    line = (f"split chosen for {board.name} over {deployment.link}: {choice.label} "
            f"({1e6 * choice.energy_j:.1f} uJ per inference on the device{bound}; every stage on the device: "
            f"{1e6 * alone.energy_j:.1f} uJ, {1e3 * alone.worst_latency_s:.2f} ms at worst); table in {found.stem}.txt")
    # unsplit, there is nothing to fall back from: fallback = false would leave no stage out
    return replace(deployment, split=choice.split, link=None, max_latency_ms=None,
                   fallback=deployment.fallback or choice.split is None), line


def recommend(found: list, max_latency_s: "float | None" = None) -> Option:
    """The option with the least expected device energy whose worst-case latency is within the bound."""
    within = [o for o in found if max_latency_s is None or o.worst_latency_s <= max_latency_s]
    if not within:
        fastest = min(found, key=lambda o: o.worst_latency_s)
        raise EennError(f"no split keeps every sample within {1e3 * max_latency_s:g} ms: the fastest, "
                        f"{fastest.label}, takes {1e3 * fastest.worst_latency_s:.2f} ms")
    return min(within, key=lambda o: o.energy_j)


def table(found: list, chosen: Option) -> str:
    rows = [[o.label + (" *" if o is chosen else ""), f"{100 * o.sent_share:.1f}%",
             f"{o.sent_bytes:,} / {o.received_bytes:,}" if o.split is not None else "-",
             f"{1e6 * o.compute_j:.1f}", f"{1e6 * o.link_j:.1f}", f"{1e6 * o.energy_j:.1f}",
             f"{1e3 * o.latency_s:.2f}", f"{1e3 * o.worst_latency_s:.2f}"] for o in found]
    return tables.table(["split", "samples sent", "bytes out / back", "compute uJ", "link uJ", "device uJ",
                         "latency ms", "worst ms"], rows)


def plot(found: list, chosen: Option, path: Path, title: str, max_latency_s: "float | None" = None) -> None:
    """Expected device energy per inference (compute and link, stacked) and worst-case latency."""
    fig, ax = plots.figure()
    x = np.arange(len(found))
    compute = [1e6 * o.compute_j for o in found]
    ax.bar(x, compute, color="tab:blue", alpha=0.8, label="compute (uJ)")
    ax.bar(x, [1e6 * o.link_j for o in found], bottom=compute, color="tab:orange", alpha=0.8, label="link (uJ)")
    ax.set_xticks(x, [o.label + ("\n(chosen)" if o is chosen else "") for o in found])
    ax.set_ylim(top=1.5 * max(1e6 * o.energy_j for o in found))  # room for the legend
    right = ax.twinx()
    right.plot(x, [1e3 * o.worst_latency_s for o in found], "o-", color="tab:red", label="worst-case latency (ms)")
    if max_latency_s is not None:
        right.axhline(1e3 * max_latency_s, color="tab:red", linestyle=":", label="latency bound")
    right.set_ylabel("worst-case latency (ms)")
    right.set_ylim(bottom=0)
    handles = [h for a in (ax, right) for h in a.get_legend_handles_labels()[0]]
    plots.save(fig, ax, path, title, "split point", "device energy per inference (uJ)", handles=handles,
               loc="upper left", ncol=2)

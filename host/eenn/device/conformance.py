"""A build's test split through a device, every answer held against the host simulator.

The device is anything a `link.Link` reaches: QEMU (`eenn emulate`) or a real board on a
serial port (`eenn validate`). Each answer becomes a log entry (eenn.device.runlog); the result is
summarized from those entries, so a log read back later (`eenn report`) gives the same figures.
"""

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..decision.mechanisms import DecisionSpec, simulate
from ..errors import EennError
from ..protocol import ROUTES
from ..tflite.reference import Records
from ..util import plots
from . import runlog
from .link import Link
from .qemu import CYCLES_PER_INSTRUCTION



@dataclass(frozen=True)
class Expectation:
    """What the host knows of each test sample of a build: label and the simulator's answer.
    The simulator runs the test split as one stream, as a replay pass does."""

    model_digest: bytes
    labels: np.ndarray
    exits: np.ndarray
    classes: np.ndarray
    probs: np.ndarray  # (samples, exits, classes) int8

    @classmethod
    def of(cls, spec: DecisionSpec, records, model_digest: bytes) -> "Expectation":
        exits, classes = simulate(spec, records.probs)
        return cls(model_digest, records.labels, exits, classes, records.probs)

    def for_sample(self, sequence: int) -> "tuple[int | None, dict | None]":
        if sequence >= len(self.labels):
            return None, None
        k = int(self.exits[sequence])
        label = int(self.labels[sequence])
        expected = {"exit": k, "class": int(self.classes[sequence]), "probs": self.probs[sequence, k].tolist()}
        return (label if label >= 0 else None), expected


@dataclass(frozen=True)
class RunResult:
    samples: int
    differences: list  # one line per sample whose record differs from the host simulator
    compared: int  # records held against the host simulator
    exit_histogram: list
    accuracy: "float | None"  # over the records with a label; None if none has
    labelled: int
    mean_cost: float  # per inference, in cost_unit
    stage_costs: list  # mean cost of each stage over the samples that ran it (None: never run)
    routes: dict  # records per route (protocol.ROUTES): where their last stages ran
    cost_unit: str
    board: str  # as the device names itself: "<board>" or, under QEMU, "<board>@<machine>"
    build_id: str

    @property
    def emulated(self) -> bool:
        return "@" in self.board


def summarize(entries: list) -> RunResult:
    """The figures of a run from its log entries."""
    infos = [e for e in entries if e["kind"] == "info"]
    if not infos:
        raise EennError("the log has no info line: it does not say which device and model it comes from")
    digests = sorted({e["model_digest"][:16] for e in infos})
    if len(digests) > 1:
        raise EennError(f"the log holds runs of {len(digests)} models ({', '.join(digests)}): report them apart")
    info, records = infos[0], [e for e in entries if e["kind"] == "record"]
    stages = info["stages"]
    exits = np.bincount([r["exit"] for r in records if r["exit"] is not None], minlength=stages).tolist()
    sums, runs = np.zeros(stages), np.zeros(stages)
    for r in records:
        sums[:len(r["cost"])] += r["cost"]
        runs[:len(r["cost"])] += 1
    labelled = [r for r in records if r["label"] is not None and r["exit"] is not None]
    differences = [_difference(r) for r in records if r["match"] is False]
    return RunResult(
        samples=len(records), differences=differences, compared=sum(r["match"] is not None for r in records),
        exit_histogram=exits,
        accuracy=float(np.mean([r["class"] == r["label"] for r in labelled])) if labelled else None,
        labelled=len(labelled),
        mean_cost=float(np.mean([sum(r["cost"]) for r in records])) if records else 0.0,
        stage_costs=[float(s / n) if n else None for s, n in zip(sums, runs)],
        routes=dict(Counter(r.get("route", "device") for r in records)),
        cost_unit=info["cost_unit"], board=info["board"], build_id=info["build_id"])


def _difference(r: dict) -> str:
    want = r["expected"]
    return (f"sample {r['sequence']}: device exit {r['exit']} class {r['class']} probs {r['probs']}; "
            f"host exit {want['exit']} class {want['class']} probs {want['probs']}")


def connect(link: Link, build, board=None):
    """The device's link.Info, once it answers; refused unless it runs `build`'s model (and,
    given `board`, firmware for that board or its QEMU twin)."""
    info = link.connect()
    if board is not None and info.board.partition("@")[0] != board.name:
        raise EennError(f"the device on {link.url} runs firmware for {info.board}, not {board.name}: "
                        f"flash it with 'make flash BOARD={board.name}'")
    expected = build.manifest.model_digest
    if info.model_digest != expected:
        raise EennError(f"the device runs another model (digest {info.model_digest.hex()[:16]}, "
                        f"expected {expected.hex()[:16]}): rebuild and reload its firmware")
    return info


def run(link: Link, build, samples: "int | None" = None, progress: bool = False,
        decision: "DecisionSpec | None" = None, board=None, log: "runlog.RunLog | None" = None,
        records: "Records | None" = None) -> RunResult:
    """Send `samples` (all by default) of the test split of `build` (an artifact.Build), or of
    `records` of its model, as one stream and compare every answer with the host simulator
    (the build's decision, or `decision`, which the firmware must have been built with): exit
    taken, class and that exit's int8 probabilities. With `board`, the device must run firmware
    for that board (or its QEMU twin)."""
    records = build.records("test") if records is None else records
    model_digest = build.manifest.model_digest
    if records.inputs is None:
        raise EennError("these records keep no inputs; run 'eenn build' again")
    info = connect(link, build, board)
    n = len(records.inputs) if samples is None else min(samples, len(records.inputs))
    expectation = Expectation.of(decision or build.manifest.decision.spec, records, model_digest)
    link.reset()
    entries = [_logged(log, "info", runlog.info_entry(info))]
    indices = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"{info.board}", unit="sample", leave=False)
    for i in indices:
        label, expected = expectation.for_sample(i)
        entries.append(_logged(log, "record", runlog.record_entry(link.infer(i, records.inputs[i], info.classes),
                                                                  label, expected)))
    return summarize(entries)


def _logged(log: "runlog.RunLog | None", kind: str, fields: dict) -> dict:
    return log.write(kind, **fields) if log is not None else {"kind": kind, **fields}


def estimate(board, result: RunResult) -> dict:
    """The real board's cycles, latency and energy per inference (and cycles per stage) from the
    measured costs: DWT or SysTick counts on a board, instruction counts under QEMU."""
    if result.emulated:
        per_count = 1e9 / board.emulation.systick_hz * CYCLES_PER_INSTRUCTION  # icount: 1 ns per instruction
    else:
        per_count = board.clock_hz / board.counter_hz()
    cycles = result.mean_cost * per_count
    seconds, energy = board.latency_energy(cycles)
    return {"instructions": cycles / CYCLES_PER_INSTRUCTION if result.emulated else None, "cycles": cycles,
            "stage_cycles": [None if c is None else c * per_count for c in result.stage_costs],
            "latency_s": seconds, "energy_j": energy, "emulated": result.emulated,
            "cycles_per_instruction": CYCLES_PER_INSTRUCTION if result.emulated else None}


def plot(entries: list, result: RunResult, estimated: dict, path) -> None:
    """Samples per exit (bars) and the mean cycles of the samples that took it (line)."""
    records = [e for e in entries if e["kind"] == "record"]
    exits = range(len(result.exit_histogram))
    per_count = estimated["cycles"] / result.mean_cost if result.mean_cost else 1.0
    cycles = [per_count * np.mean([sum(r["cost"]) for r in records if r["exit"] == k] or [np.nan]) for k in exits]
    unit = "cycles (QEMU instructions)" if result.emulated else "cycles"
    fig, ax = plots.figure()
    ax.bar(exits, result.exit_histogram, color="tab:blue", alpha=0.7, label="samples")
    ax.set_xticks(list(exits), [f"exit {k}" for k in exits])
    right = ax.twinx()
    right.plot(exits, cycles, "o-", color="tab:red", label=f"mean {unit}")
    right.set_ylabel(f"{unit} per inference")
    right.set_ylim(bottom=0)
    handles = [h for a in (ax, right) for h in a.get_legend_handles_labels()[0]]
    acc = "" if result.accuracy is None else f", accuracy {100 * result.accuracy:.1f}%"
    plots.save(fig, ax, path, f"{result.board}, build {result.build_id}\n{result.samples} samples{acc}",
               "exit taken", "samples", handles=handles, loc="upper center")


def run_lines(board, result, estimate: dict, predicted: "float | None" = None) -> str:
    """What a run on a device measured (QEMU or the board), what it means for the real board,
    and what the cost model predicted (instructions per inference) for the same exits."""
    acc = "n/a" if result.accuracy is None else f"{100 * result.accuracy:.1f}%"
    if result.accuracy is not None and result.labelled < result.samples:
        acc += f" (of the {result.labelled} labelled)"
    hist = " / ".join(str(n) for n in result.exit_histogram)
    if not result.compared:
        same = "records not compared with"
    elif result.differences:
        same = f"{len(result.differences)} of {result.compared} records differ from"
    elif result.compared == result.samples:
        same = "records all identical to"
    else:
        same = f"the {result.compared} records compared all identical to"
    unit = "instructions" if estimate["emulated"] else "cycles"
    stages = " / ".join("-" if c is None else f"{c:,.0f}" for c in estimate["stage_cycles"])
    lines = [
        f"{result.board} (build {result.build_id}): {result.samples} samples, {same} the host simulator",
        f"accuracy {acc}; exits taken {hist}; mean cost {result.mean_cost:,.0f} {result.cost_unit} per inference"
        + (f" = {estimate['instructions']:,.0f} instructions" if estimate["instructions"] is not None else "")
        + (f" (cost model: {predicted:,.0f}, {100 * (predicted / estimate['instructions'] - 1):+.1f}%)"
           if predicted is not None and estimate["instructions"] else ""),
        f"{unit} per stage, mean over the samples that ran it: {stages}",
        f"{board.name}{' estimate' if estimate['emulated'] else ''}: {estimate['cycles']:,.0f} cycles = "
        f"{1e3 * estimate['latency_s']:.2f} ms at {board.clock_hz / 1e6:g} MHz"
        + (f", {1e6 * estimate['energy_j']:.1f} uJ at {board.power.active_mw:g} mW"
           if estimate["energy_j"] is not None else ", no power figure for this board"),
    ]
    if set(result.routes) - {"device"}:
        lines.insert(2, "where samples ended: " + ", ".join(
            f"{result.routes[route]} {route}" for route in ROUTES.values() if route in result.routes))
    if estimate["emulated"]:
        lines.append(f"(QEMU counts instructions; {estimate['cycles_per_instruction']:g} cycle per instruction "
                     f"assumed.) {board.emulation.note}")
    return "\n".join(lines)


def link_line(entries: list) -> str:
    """What happened on the link over a log: sessions, drops, garbage, the firmware's text."""
    count = lambda kind, event=None: sum(e["kind"] == kind and e.get("event") == event for e in entries)
    texts = [e["text"] for e in entries if e["kind"] == "text"]
    return (f"link: {count('info')} device start(s) seen, {count('event', 'disconnected')} disconnection(s), "
            f"{count('event', 'garbage')} garbled frame(s) skipped; the firmware printed {len(texts)} line(s)"
            + (f", the last: {texts[-1]!r}" if texts else ""))

"""The `eenn` command: a thin layer over the library.

Exit codes: 0 success; 1 bad input or environment (one line on stderr); 2 bad usage (an
argument that cannot be right whatever the files say); 130 interrupted (Ctrl-C); 143
terminated (SIGTERM). An interrupted or terminated command removes what it had half-written.
"""

import argparse
import math
import signal
import sys
from pathlib import Path

from .errors import EennError
from .limits import MAX_COUNT, MAX_EPOCHS, MAX_STREAM_STEPS

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
BOARD_HELP = "board name or alias (see boards/), or a board file of your own (.toml)"


def _thresholds(text: str):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a probability or a comma-separated list of them") from None
    return values[0] if len(values) == 1 else tuple(values)


def _whole(low: int, high: "int | None" = None):
    """An argparse type: a whole number in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be at least {low}" + (f" and at most {high}" if high else "")
                                             + f", not {value}")
        return value
    return parse


def _real(low: float, high: "float | None" = None, inclusive: bool = True):
    """An argparse type: a finite number in [low, high] (or (low, high] when not `inclusive`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        below = value < low if inclusive else value <= low
        if not math.isfinite(value) or below or (high is not None and value > high):
            bound = f"{'at least' if inclusive else 'above'} {low:g}" + (f" and at most {high:g}" if high else "")
            raise argparse.ArgumentTypeError(f"must be {bound}, not {text}")
        return value
    return parse


def _build_name(text: str) -> str:
    from .util import paths

    if not paths.is_plain_name(text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a plain name (letters, digits, '.', '_', '-', not "
                                         "starting with '.'): builds live under the output root, --out")
    return text


def _new_file(text: str) -> Path:
    """A file to write, in a directory that exists."""
    from .util import paths

    try:
        return paths.existing_parent(Path(text))
    except EennError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _output_root(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; the output root is a directory")
    return path


def _names(text: str) -> tuple:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _exits(text: str) -> "tuple | str":
    names = _names(text)
    return "auto" if names == ("auto",) else names


def _replay(text: str) -> "int | str":
    if text == "all":
        return text
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of samples (or 'all')")
    return count


def _add_replay(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replay", type=_replay, help="an image that replays this many test samples (or 'all') "
                   "forever, sending a record for each, instead of serving a host (see 'eenn monitor')")


def _add_split(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", type=_whole(1), metavar="STAGE", help="run the stages before STAGE on the device and "
                   "offload samples that none of their exits lets leave to an edge host ('eenn edge'); default: the "
                   "project's deployment.split")
    p.add_argument("--edge-timeout-ms", type=_real(0, inclusive=False), help="how long the device waits for the "
                   "edge host's answer (default: the project's, 200)")
    p.add_argument("--no-fallback", action="store_true", help="without an answer in time, report no result instead "
                   "of running the remaining stages on the device (the image then leaves them out)")
    p.add_argument("--link", help="instead of --split: the link to the edge host (boards/links/), the split chosen "
                   "for the least device energy ('eenn partition'); default: the project's deployment.link")
    p.add_argument("--max-latency-ms", type=_real(0, inclusive=False), help="with a link: bound on the worst-case "
                   "latency of a sample (default: the project's deployment.max_latency_ms)")


def _deployment(args, build, board):
    """The image's deployment: the project's [deployment], the flags applied (a split given
    replaces the project's link, a link its split), its split chosen when it names a link."""
    from dataclasses import replace
    from .studies import partition

    if args.split is not None and args.link is not None:
        raise EennError("give --split or --link (to have the split chosen), not both")
    changes = {"split": args.split, "edge_timeout_ms": args.edge_timeout_ms,
               "fallback": False if args.no_fallback else None, "link": args.link,
               "max_latency_ms": args.max_latency_ms}
    deployment = replace(build.manifest.project.deployment, **{k: v for k, v in changes.items() if v is not None})
    if args.split is not None:
        deployment = replace(deployment, link=None, max_latency_ms=None)
    elif args.link is not None:
        deployment = replace(deployment, split=None)
    deployment, line = partition.deployed(build, board, deployment.validate(len(build.manifest.stages)))
    if line:
        print(line)
    return deployment


def _replay_count(value, build) -> int:
    """--replay as a number of samples (0: no replay)."""
    if value != "all":
        return value or 0
    return len(build.records("test"))


def _open(args):
    """The build a command reads: OUT/NAME/."""
    from .artifact import Build

    return Build.open(args.out / args.name)


def _monitor_arguments(p: argparse.ArgumentParser, build_required: bool = False) -> None:
    p.add_argument("--port", required=True, help="the board's serial port (/dev/ttyACM0) or a pyserial URL")
    p.add_argument("--board", help="board name or alias: its baud rate (default 115200)")
    p.add_argument("--baud", type=_whole(1), help="line rate (default: the board's, or 115200)")
    p.add_argument("--name", type=_build_name, default="default" if build_required else None,
                   help="the build the device runs (generated/NAME/): labels its records and checks them against "
                   "the host simulator" + (" (default: default)" if build_required else ""))
    p.add_argument("--out", type=_output_root, default=Path("generated"), help="output root (default: generated)")
    p.add_argument("--log", type=_new_file, help="append everything received to this JSON-lines log (read by "
                   "'eenn report')")
    p.add_argument("--records", type=_whole(1), help="stop after this many records (default: Ctrl-C)")
    p.add_argument("--seconds", type=_real(0, inclusive=False), help="stop after this many seconds (default: Ctrl-C)")


def _build_location(p: argparse.ArgumentParser) -> None:
    """--name and --out: which build under which output root a command reads."""
    p.add_argument("--name", type=_build_name, default="default", help="build name: OUT/NAME/ (default: default)")
    p.add_argument("--out", type=_output_root, default=Path("generated"), help="output root (default: generated)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eenn", description="Early-exit neural networks for Cortex-M microcontrollers.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="train, quantize and split an EENN into int8 stages")
    b.add_argument("--project", type=Path, help="project file (TOML); flags override it")
    b.add_argument("--name", type=_build_name, help="output name: generated/NAME/ (default: default)")
    b.add_argument("--dataset", help="built-in dataset (digits, mnist1d) or a .npz/.csv file")
    b.add_argument("--model", help="zoo model (see 'eenn zoo')")
    b.add_argument("--model-file", help="a trained Keras model (.keras) to augment into an EENN")
    b.add_argument("--exits", type=_exits, help="comma-separated exit points, in network order, or 'auto': exits, "
                   "heads and mechanism chosen for the lowest certified cost (the default for a model file)")
    b.add_argument("--if-slower", choices=("original", "refuse", "keep"), help="when the certified EENN costs more "
                   "than the network alone: build the network alone (default), refuse, or keep the EENN")
    b.add_argument("--head", help="exit head family: dense or conv")
    b.add_argument("--training", dest="training_mode", help="joint, frozen (backbone first, then heads only), or "
                   "heads (the heads only; default for a model file)")
    b.add_argument("--epochs", type=_whole(1, MAX_EPOCHS))
    b.add_argument("--seed", type=_whole(0, MAX_COUNT))
    b.add_argument("--threshold", type=_thresholds, help="decision threshold(s): probability (nats for entropy)")
    b.add_argument("--mechanism", help="exit decision: confidence, margin, entropy, patience, difference, "
                   "temporal-patience")
    b.add_argument("--calibration", dest="method", help="how thresholds are calibrated: "
                   "ucb-hb (default), ucb-wsr, ltt-hb, crc, empirical, or none")
    b.add_argument("--out", type=_output_root, default=Path("generated"), help="output root (default: generated)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")

    s = sub.add_parser("simulate", help="evaluate the exit policy on a build's TFLM records")
    _build_location(s)
    s.add_argument("--split", default="test", choices=["test", "calib"], help="records to use (default test)")
    s.add_argument("--threshold", type=_thresholds, help="override the build's threshold(s)")
    s.add_argument("--mechanism", help="override the build's decision mechanism")

    r = sub.add_parser("search", help="search exits and heads under a board's budget (Optuna): Pareto front, "
                       "and the choice as a project file")
    r.add_argument("--project", type=Path, help="project file of the backbone, data and calibration")
    r.add_argument("--name", type=_build_name, help="study name: generated/search/NAME/ (default: the project's)")
    r.add_argument("--model-file", help="a trained Keras model (.keras) instead of the project's backbone")
    r.add_argument("--dataset", help="built-in dataset or a .npz/.csv file")
    r.add_argument("--trials", type=_whole(1), default=20, help="finished trials the study should have (default 20)")
    r.add_argument("--board", default="nrf52", help="board whose RAM and flash bound the search (default nrf52)")
    r.add_argument("--objective", default="macs", choices=["macs", "cycles", "energy"],
                   help="expected cost to minimize: MACs, or cycles or energy on the board (default macs)")
    r.add_argument("--storage", help="study storage URL, e.g. postgresql://user@host/db to share it between "
                   "machines (default: a SQLite file under generated/search/NAME/)")
    r.add_argument("--epochs", type=_whole(1, MAX_EPOCHS),
                   help="epochs of the one pass that trains every candidate head (default: the project's)")
    r.add_argument("--population", type=_whole(2), default=10, help="NSGA-II generation size (default 10; the first "
                   "generation is random)")
    r.add_argument("--max-loss", type=_real(0, 1), default=0.01, help="the choice: cheapest Pareto point within this "
                   "accuracy of the full network (default 0.01)")
    r.add_argument("--max-macs", type=_whole(1), help="largest worst-case MACs per inference")
    r.add_argument("--min-accuracy", type=_real(0, 1), help="smallest accuracy on the calibration split")
    r.add_argument("--out", type=_output_root, default=Path("generated"), help="output root (default: generated)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")

    c = sub.add_parser("calibrate", help="choose a build's exit thresholds with risk control (rewrites its manifest)")
    _build_location(c)
    c.add_argument("--mechanism", help="decision mechanism to calibrate (default: the build's)")
    c.add_argument("--method", help="ucb-hb, ucb-wsr, ltt-hb (P(risk <= epsilon) >= 1 - delta), crc (expected "
                   "risk <= epsilon) or empirical (no guarantee); default: the project's")
    c.add_argument("--risk", help="consistency, prediction-gap, brier-gap, brier-consistency or hellinger")
    c.add_argument("--epsilon", type=float, help="largest risk allowed, in (0, 1)")
    c.add_argument("--delta", type=float, help="allowed probability that the risk exceeds epsilon, in (0, 1)")
    c.add_argument("--clip", action="store_true", default=None, help="count only losses above 0 (the gap risks)")
    c.add_argument("--per-exit", action="store_true", default=None, help="a threshold per early exit")
    c.add_argument("--threshold", type=_thresholds, help="temporal mechanisms: the confidence cascade's "
                   "threshold(s), set by hand (default: the project's; none: no cascade)")
    c.add_argument("--streams", type=_whole(1, MAX_STREAM_STEPS),
                   help="temporal mechanisms: calibration streams (default 100)")
    c.add_argument("--stream-steps", type=_whole(1, MAX_STREAM_STEPS),
                   help="temporal mechanisms: steps per stream (default 40)")

    g = sub.add_parser("generate", help="generate the C sources of a build's stages (generated/NAME/src/)")
    _build_location(g)

    f = sub.add_parser("firmware", help="build a board's firmware from the generated C (generated/NAME/BOARD/)")
    f.add_argument("--board", required=True, help=BOARD_HELP)
    _build_location(f)
    f.add_argument("--emulated", action="store_true", help="the image for the board's QEMU machine")
    _add_replay(f)
    _add_split(f)

    e = sub.add_parser("emulate", help="run a board's firmware under QEMU on the test split, checked against the host")
    e.add_argument("--board", required=True, help=BOARD_HELP)
    _build_location(e)
    e.add_argument("--samples", type=_whole(1), help="number of test samples (default: all)")
    e.add_argument("--log", type=_new_file, help="append every record to this JSON-lines log (read by 'eenn report')")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser("validate", help="run the test split through a board's firmware on a serial port, every "
                       "record checked against the host: accuracy, exits, cycles, latency, energy")
    v.add_argument("--board", required=True, help=BOARD_HELP)
    _build_location(v)
    v.add_argument("--port", required=True, help="the board's serial port (/dev/ttyACM0) or a pyserial URL "
                   "(socket://HOST:PORT, rfc2217://HOST:PORT)")
    v.add_argument("--baud", type=_whole(1), help="line rate (default: the board file's)")
    v.add_argument("--samples", type=_whole(1), help="number of test samples (default: all)")
    v.add_argument("--log", type=_new_file, help="append every record to this JSON-lines log (read by 'eenn report')")
    v.add_argument("--quiet", action="store_true", help="no progress bar")

    m = sub.add_parser("monitor", help="collect a board's records and text lines from a serial port: live "
                       "summary, JSON-lines log; reconnects after a reset or unplug")
    _monitor_arguments(m)
    ed = sub.add_parser("edge", help="the edge host of a split EENN: answer the offloads of the device on a serial "
                        "port (the remaining stages under TFLM), and collect its records as 'monitor' does")
    _monitor_arguments(ed, build_required=True)

    pt = sub.add_parser("partition", help="device energy and latency of each split between the board and an edge "
                        "host over a link, and the recommended split: table and plot")
    pt.add_argument("--board", default="nrf52", help="board name or alias (default nrf52)")
    _build_location(pt)
    pt.add_argument("--link", action="append", help="a link of boards/links/ (repeatable; default: every one)")
    pt.add_argument("--max-latency-ms", type=_real(0, inclusive=False),
                    help="bound on the worst-case latency of a sample")

    rp = sub.add_parser("report", help="figures of a validate, emulate or monitor log: accuracy, exits, cycles per "
                        "stage, latency and energy, and a plot")
    rp.add_argument("--log", type=Path, required=True, help="the JSON-lines log")
    rp.add_argument("--plot", type=_new_file, help="where the plot goes (default: the log's name with .png)")

    fl = sub.add_parser("flash", help="program a board with its firmware (pyocd, or the tool its board file names)")
    fl.add_argument("--board", required=True, help=BOARD_HELP)
    _build_location(fl)
    fl.add_argument("--probe", help="the debug probe's unique id (default: the one connected)")
    fl.add_argument("--image", type=Path, help="an ELF image to flash instead of the build's (its board is checked)")
    _add_replay(fl)
    _add_split(fl)
    fl.add_argument("--quiet", action="store_true", help="no progress bar")

    t = sub.add_parser("tradeoff", help="accuracy vs MACs of every decision mechanism: table and plot")
    _build_location(t)
    t.add_argument("--stream", action="store_true", help="on a stream of scenes made from the test split")
    t.add_argument("--stream-file", type=Path, help="on a recorded stream (.npz or .csv)")
    t.add_argument("--steps", type=_whole(1, MAX_STREAM_STEPS), default=2000, help="stream length (default 2000)")
    t.add_argument("--seed", type=_whole(0, MAX_COUNT), default=0)
    t.add_argument("--noise", type=_whole(0, 127), default=0, help="int8 noise amplitude added to stream samples")

    k = sub.add_parser("costs", help="time single layers under QEMU and fit each CPU's cost table (boards/cpus/)")
    k.add_argument("--cpu", action="append", help="a CPU to measure (repeatable; default: every emulated CPU)")
    k.add_argument("--kernel", action="append", help="re-measure only this kernel's layers, the other figures kept "
                   "(after a change of its counts, not of any source; repeatable)")
    k.add_argument("--plot", type=_new_file, default=Path("generated/costs.png"), help="predicted vs measured (PNG)")
    k.add_argument("--quiet", action="store_true", help="no progress bar")

    b = sub.add_parser("bench", help="instructions, arena and flash of single layers, zoo models and "
                       "keras.applications models on each core under QEMU (generated/bench/)")
    b.add_argument("--cpu", action="append", help="a core to measure (repeatable; default: M4, M7, M55, M0)")
    b.add_argument("--model", action="append", help="a zoo model or one of eenn.studies.applications' "
                   "(mobilenet_v2, ..., sensor_1d; repeatable; default: all)")
    b.add_argument("--out", type=_output_root, default=Path("generated"), help="output root (default: generated)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")

    z = sub.add_parser("zoo", help="list the zoo's models and the built-in datasets, or a model file's exit points")
    z.add_argument("--model-file", type=Path, help="a trained Keras model (.keras): where exits can go")
    return p


def _build(args) -> None:
    from . import pipeline, project

    proj = project.load(
        args.project, name=args.name, seed=args.seed, **{
            "data.source": args.dataset, "model.name": args.model, "model.file": args.model_file,
            "model.exits": args.exits, "model.if_slower": args.if_slower,
            "model.head": args.head, "training.mode": args.training_mode, "training.epochs": args.epochs,
            "calibration.method": args.method,
            "decision.threshold": args.threshold, "decision.mechanism": args.mechanism,
        })
    result = pipeline.build(proj, args.out, progress=not args.quiet)
    print(result.report)
    print(f"wrote {result.directory}/")


def _simulate(args) -> None:
    from dataclasses import replace

    from .decision import mechanisms
    from . import report

    build = _open(args)
    m = build.manifest
    records = build.records(args.split)
    changes = {k: v for k, v in {"threshold": args.threshold, "mechanism": args.mechanism}.items() if v is not None}
    spec = m.decision.spec
    if changes:
        spec = mechanisms.spec_for(replace(m.decision.config, **changes), m.exit_quantizations[:-1])
    result = mechanisms.evaluate(records, spec, m.cumulative_macs, m.full_model_macs)
    print(f"{spec.mechanism}: integer thresholds {', '.join(map(str, spec.thresholds))}")
    print(report.policy_line(result))


def _search(args) -> None:
    from . import project
    from .studies import search

    proj = project.load(args.project, name=args.name, **{"model.file": args.model_file, "data.source": args.dataset})
    config = search.SearchConfig(trials=args.trials, board=args.board, objective=args.objective, max_loss=args.max_loss,
                                 max_macs=args.max_macs, min_accuracy=args.min_accuracy, epochs=args.epochs,
                                 population=args.population)
    study = search.run(proj, config, args.out, args.storage, progress=not args.quiet)
    text, chosen = search.report(study, proj.name, config, args.out)
    directory = search.study_directory(args.out, proj.name)
    print(text)
    print(f"chosen: trial {chosen.number}; wrote {directory}/{search.CHOICE} (build it with "
          f"'make firmware PROJECT={directory}/{search.CHOICE} NAME={proj.name}-search'), pareto.txt and pareto.png")


def _calibrate(args) -> None:
    from dataclasses import replace

    from .decision import calibration
    from . import pipeline, report

    build = _open(args)
    saved = build.manifest.project.calibration
    changes = {"method": args.method, "risk": args.risk, "epsilon": args.epsilon, "delta": args.delta,
               "clip": args.clip, "per_exit": args.per_exit, "streams": args.streams,
               "stream_steps": args.stream_steps}
    settings = replace(saved, **{k: v for k, v in changes.items() if v is not None})
    config = build.manifest.decision.config
    config = replace(config, mechanism=args.mechanism or config.mechanism)
    if config.mechanism in calibration.THRESHOLD_MECHANISMS:
        if args.threshold is not None:
            raise EennError(f"the thresholds of {config.mechanism} are what calibration chooses; "
                            "--threshold sets a temporal mechanism's cascade")
        config = replace(config, threshold=None)
    elif args.threshold is not None:
        config = replace(config, threshold=args.threshold)
    build, result = pipeline.recalibrate(build, config, settings, log=lambda line: print(line, file=sys.stderr))
    print(report.calibration_lines(calibration.summary(result)))
    print(f"wrote {build.directory}/manifest.json, calibration.txt and calibration.png")


def _generate(args) -> None:
    from . import pipeline

    generated, table = pipeline.generate(_open(args))
    print(table)
    print(f"wrote {generated.directory}/")


def _firmware(args) -> None:
    from .hardware import boards
    from .costs import predict
    from .firmware import image
    from . import report

    board = boards.get(args.board)
    build = _open(args)
    fw = image.build(build, board, emulated=args.emulated, replay=_replay_count(args.replay, build),
                     deployment=_deployment(args, build, board))
    print(report.firmware_lines(fw.size))
    print(report.cost_lines(board, predict.model_costs(build, board)))
    what = f"replays {fw.replay} test samples" if fw.replay else "serves a host"
    d = fw.deployment
    if d.split is not None:
        what += (f"; stages {d.split} and on run on an edge host (else "
                 f"{'here' if d.fallback else 'no result'} after {d.edge_timeout_ms:g} ms)")
    print(f"{'built' if fw.rebuilt else 'up to date'}: {fw.directory}/ (firmware.elf, .hex, .bin; build {fw.build_id}; "
          f"{what})")


def _emulate(args) -> None:
    from .hardware import boards
    from .costs import predict
    from .device import conformance, qemu
    from .firmware import image

    board = boards.get(args.board)
    build = _open(args)
    fw = image.build(build, board, emulated=True)
    with _optional_log(args.log) as log, qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, build, args.samples, progress=not args.quiet, board=board, log=log)
    predicted = predict.expected(result.exit_histogram, predict.stage_instructions(board, build.code()))
    print(conformance.run_lines(board, result, conformance.estimate(board, result), predicted))
    _fail_on_differences(result)


def _validate(args) -> None:
    from .hardware import boards
    from .device import conformance, link

    board = boards.get(args.board)
    build = _open(args)
    device = link.Link(args.port, baud=args.baud or board.uart.baud)  # refuses a port that is no serial device
    try:
        with _optional_log(args.log) as log:
            result = conformance.run(device, build, args.samples, progress=not args.quiet, board=board, log=log)
    finally:
        device.close()
    print(conformance.run_lines(board, result, conformance.estimate(board, result)))
    _fail_on_differences(result)


def _optional_log(path: "Path | None"):
    from contextlib import nullcontext

    from .device.runlog import RunLog

    return RunLog(path) if path else nullcontext()


def _fail_on_differences(result, shown: int = 20) -> None:
    """List the records that differ from the host simulator (the first `shown`) and fail."""
    if result.differences:
        for line in result.differences[:shown]:
            print(line)
        if len(result.differences) > shown:
            print(f"... and {len(result.differences) - shown} more")
        raise EennError(f"{len(result.differences)} of {result.samples} records differ from the host simulator")


def _monitor(args, edge: bool = False) -> None:
    from .hardware import boards
    from .device import conformance, link, monitor

    link.check_port(args.port)
    baud = args.baud or (boards.get(args.board).uart.baud if args.board else 115200)
    build = expectation = None
    if args.name:
        build = _open(args)
        expectation = conformance.Expectation.of(build.manifest.decision.spec, build.records("test"),
                                                 build.manifest.model_digest)
    live = sys.stderr.isatty()

    def show(tally):
        if live:
            print(f"\r\033[K{args.port}: {tally.line()}", end="", file=sys.stderr, flush=True)

    with _optional_log(args.log) as log:
        runtime = None
        if edge:
            from .device.edge import EdgeRuntime

            runtime = EdgeRuntime(build)
        tally = monitor.Monitor(args.port, baud, log, expectation, runtime).run(args.records, args.seconds, show)
    if live:
        print(file=sys.stderr)
    print(f"{args.port}: {tally.line()}")
    if args.log:
        print(f"wrote {args.log} (read it with 'eenn report --log {args.log}')")


def _partition(args) -> None:
    from .hardware import boards, links
    from .studies import partition

    board, build = boards.get(args.board), _open(args)
    for name in args.link or links.names():
        found = partition.report(build, board, links.load(name), args.max_latency_ms)
        print(found.text)
        print(f"wrote {found.stem}.txt and .png")


def _report(args) -> None:
    from .hardware import boards
    from .device import conformance, runlog

    entries = runlog.read(args.log)
    result = conformance.summarize(entries)
    board = boards.get(result.board.partition("@")[0])
    estimated = conformance.estimate(board, result)
    print(conformance.run_lines(board, result, estimated))
    print(conformance.link_line(entries))
    plot = args.plot or args.log.with_suffix(".png")
    conformance.plot(entries, result, estimated, plot)
    print(f"wrote {plot}")
    _fail_on_differences(result)


def _flash(args) -> None:
    from .hardware import boards
    from .firmware import flash, image

    board = boards.get(args.board)
    flash.check_tool(board)
    if args.image:
        elf, digest = args.image, None
    else:
        build = _open(args)
        fw = image.build(build, board, replay=_replay_count(args.replay, build),
                         deployment=_deployment(args, build, board))
        elf, digest = fw.elf, build.manifest.model_digest
    flashed = flash.flash(board, elf, args.probe, digest, progress=not args.quiet)
    print(f"flashed {board.name} with {elf} (build {flashed.build_id}, model {flashed.model_digest.hex()[:16]})")


def _tradeoff(args) -> None:
    from .studies import sweep

    stream = None
    if args.stream_file or args.stream:
        stream = sweep.StreamSource(args.stream_file, args.steps, args.seed, args.noise)
    text, stem = sweep.report(_open(args), stream)
    print(text)
    print(f"wrote {stem}.txt and {stem}.png")


def _zoo(args) -> None:
    from .frontend import augment, data, zoo
    from .util import tables

    entries = [augment.entry(args.model_file)] if args.model_file else zoo.ZOO.values()
    rows = [[e.name, "x".join(map(str, e.input_shape)), e.dataset or "(user data)", ", ".join(e.exit_points),
             ", ".join(e.default_exits)] for e in entries]
    print(tables.table(["model", "input", "trains on", "exit points", "default exits"], rows))
    print(f"built-in datasets: {', '.join(data.BUILTIN)}")


def _costs(args) -> None:
    from .costs import fit, predict
    from .util import tables

    measured = {}
    for cpu in args.cpu or predict.cpus():
        table, samples = (fit.refit(cpu, tuple(args.kernel), not args.quiet) if args.kernel
                          else fit.measure(cpu, progress=not args.quiet))
        print(f"wrote {fit.save(table)} (timed on {table.measured_on}, {len(samples)} layers)")
        print(tables.table(["kernel", "largest error"], [[k, f"{100 * e:.1f}%"] for k, e in table.errors.items()]))
        measured[cpu] = (table, samples)
    fit.plot(measured, args.plot)
    print(f"wrote {args.plot}")


def _bench(args) -> None:
    from .studies import benchmarks

    results = benchmarks.run(args.out, tuple(args.cpu or benchmarks.CPUS), tuple(args.model or benchmarks.MODELS),
                             progress=not args.quiet)
    path, regressions = benchmarks.save(results, args.out / "bench")
    print(benchmarks.markdown(results))
    for line in regressions:
        print(f"REGRESSION: {line}")
    for line in benchmarks.targets(results):
        print(f"target missed: {line}")
    print(f"wrote {path} and results.md" + ("" if regressions else "; no regression against the previous run"))


def _terminated(signum, frame):
    raise SystemExit(EXIT_TERMINATED)  # unwinds like Ctrl-C: half-written outputs are removed


def main(argv=None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `eenn zoo | head` ends quietly
    signal.signal(signal.SIGTERM, _terminated)
    # Ctrl-C (SIGINT) stops `eenn monitor` and unwinds any command, even one started from a shell's
    # background job, which inherits SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = _parser().parse_args(argv)
    try:
        {"build": _build, "simulate": _simulate, "calibrate": _calibrate, "search": _search, "generate": _generate,
         "firmware": _firmware, "emulate": _emulate, "validate": _validate, "monitor": _monitor,
         "edge": lambda a: _monitor(a, edge=True), "partition": _partition, "report": _report, "flash": _flash,
         "tradeoff": _tradeoff, "costs": _costs, "bench": _bench, "zoo": _zoo}[args.command](args)
    except EennError as e:
        print(f"eenn: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("eenn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

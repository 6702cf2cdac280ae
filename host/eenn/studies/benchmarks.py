"""`eenn bench`: instructions, memory and flash of the generated code, per core, under QEMU.

Two suites. LAYERS are single int8 layers (input and output zero point -128, per-channel
weights, ReLU) whose instructions per MAC compare with published kernel figures; MACs count
every tap of the window, padded border included. The models are the zoo's networks with their
default exits (untrained where the zoo has no dataset: instruction counts hardly depend on
the weights' values) and users' architectures from keras.applications at 96x96 and a 1-D
sensor CNN (eenn.studies.applications), built like any project: instructions per stage and
per inference (every stage run), MACs, the arena of the generator's plan against the TFLM
interpreter's for the same stages, the serving firmware's flash beyond the model's constants
(every op's arrays and parameters) and the ops. Results go to a JSON file and a Markdown
table; `compare` holds them against the previous run's and names every regression.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .. import pipeline, project
from ..artifact import Build
from ..codegen import singleop
from ..costs import predict, timing
from ..errors import EennError
from ..firmware import image
from ..frontend import zoo
from ..hardware import boards
from ..tflite.reference import tflm_arena_bytes
from ..util import atomic
from . import applications

CPUS = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m0")
LAYERS = {
    "a": singleop.conv2d((32, 32), 16, 16, (3, 3), 1, "SAME"),
    "b": singleop.conv2d((25, 5), 64, 64, (1, 1), 1, "VALID"),
    "c": singleop.conv2d((25, 5), 64, 64, (3, 3), 1, "SAME", depthwise=True),
    "d1": singleop.fully_connected(256, 10),
    "d2": singleop.fully_connected(1024, 64),
    "e": singleop.conv2d((32, 32), 3, 16, (3, 3), 1, "SAME"),
}
# Instructions per MAC of CMSIS-NN (commit 99f736a6, GCC 12.2 -O2) on each core's path, counted the
# same way: one call of arm_convolve_wrapper_s8, arm_depthwise_conv_wrapper_s8 or
# arm_fully_connected_s8 (its kernel sums computed beforehand, as TFLM's Prepare does); the M0
# figures are its plain C (issue 25).
CMSIS_NN = {"cortex-m4": {"a": 2.33, "b": 2.09, "c": 7.79, "d1": 2.13, "d2": 1.93, "e": 4.77},
            "cortex-m55": {"a": 0.40, "b": 0.40, "c": 2.34, "d1": 0.68, "d2": 0.48, "e": 1.42},
            "cortex-m0": {"a": 7.56, "b": 7.56, "c": 35.72, "d1": 6.69, "d2": 6.13, "e": 11.71}}
# Targets, instructions per MAC: 0.8 x CMSIS-NN's, and on the M4 layers a and e no worse than
# when issue 25 was filed.
TARGETS = {"cortex-m4": {"a": 1.71, "b": 1.67, "c": 6.23, "d1": 1.70, "d2": 1.54, "e": 3.22},
           "cortex-m55": {"a": 0.32, "b": 0.32, "c": 1.87, "d1": 0.55, "d2": 0.39, "e": 1.13},
           "cortex-m0": {"a": 6.05, "b": 6.05, "c": 28.6, "d1": 5.35, "d2": 4.90, "e": 9.36}}
MLPERF_TINY = ("resnet8", "ds-cnn", "mobilenetv1-0.25")
MODELS = (*zoo.ZOO, *applications.NAMES)
APPLICATION_SIZES = {"sensor_1d": 128}  # input sizes but the default 96 (x96)
APPLICATION_SAMPLES = 80
ARENA_TARGET = 0.6  # of the TFLM interpreter's arena, MLPerf Tiny models
RUNTIME_FLASH_TARGET = 12 * 1024
REGRESSION = 0.005  # a figure more than 0.5% worse than the previous run's is a regression


@dataclass(frozen=True)
class Core:
    cpu: str
    board: boards.Board  # whose emulated machine is this core
    larger: "boards.Board | None" = None  # an emulated board with more RAM for the same code, for layers


def cores(cpus=CPUS) -> list:
    """Each CPU's measuring board, and the emulated board of the same code with the most RAM
    where that has more (the Cortex-M0's image on the AN385 runs the layers the microbit cannot)."""
    chosen = []
    for cpu in cpus:
        board = predict.measuring_board(cpu)
        same = [b for b in boards.all_boards() if b.cpu == cpu and b.emulation is not None
                and (b.kernels, b.cflags) == (board.kernels, board.cflags)]
        roomiest = max(same, key=lambda b: b.memory.ram_bytes)
        chosen.append(Core(cpu, board, roomiest if roomiest.memory.ram_bytes > board.memory.ram_bytes else None))
    return chosen


def _does_not_fit(error: EennError) -> bool:
    """Whether the error is the core's memory refusing the code (then the figure is 'does not fit')."""
    return "overflows" in str(error) or "does not fit" in str(error)


def bench_layers(core: Core) -> dict:
    """Each layer's instructions on the core's board, or on its larger one where it does not fit
    (then "board" names it)."""
    results = {}
    for key, layer in LAYERS.items():
        result = {"layer": layer.name, "macs": layer.macs, "fits": False}
        for board in (core.board, core.larger):
            if board is None:
                continue
            try:
                (instructions,) = timing.measure([("layer.tflite", layer.tflite)], board)
            except EennError as e:
                if not _does_not_fit(e):
                    raise
                continue
            result = {"layer": layer.name, "macs": layer.macs, "fits": board is core.board, "board": board.name,
                      "instructions": instructions, "per_mac": instructions / layer.macs}
            break
        results[key] = result
    return results


def build_model(name: str, out_root: Path) -> Build:
    """The zoo model (or the architecture of eenn.studies.applications) with its default exits,
    built and generated into out_root/bench-<name> (trained on the zoo's dataset where it has
    one, else untrained)."""
    if name in applications.NAMES:
        return applications.build(name, APPLICATION_SIZES.get(name, 96), APPLICATION_SAMPLES,
                                  Path(out_root) / ".cache" / "applications", Path(out_root), f"bench-{name}")
    proj = project.load(None, name=f"bench-{name}", **{"model.name": name})
    built = pipeline.build(proj, out_root, progress=False, log=lambda *_: None).build
    pipeline.generate(built)
    return built


MODEL_CONSTANT = re.compile(r"stage\d+_(op\d+(_[a-z]+)?|tensor\d+)")  # an op's arrays and parameters, constant operands


def model_constant_bytes(elf: Path) -> int:
    """Flash the model's own constants take in an image: every op's arrays and parameter struct."""
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symbols = ELFFile(f).get_section_by_name(".symtab")
        return sum(s["st_size"] for s in symbols.iter_symbols() if MODEL_CONSTANT.fullmatch(s.name))


def model_figures(built: Build) -> dict:
    """What a build takes whatever the core: MACs per stage, arena, the TFLM interpreter's
    largest stage arena, constants."""
    code = built.code()
    return {"macs": [s.macs for s in code.stages], "arena_bytes": code.arena_bytes,
            "tflm_arena_bytes": max(tflm_arena_bytes(tflite)["total"] for _, tflite in built.stage_models()),
            "weight_bytes": code.weight_bytes, "ops": sorted({op for s in built.manifest.stages for op in s.ops})}


def bench_model(built: Build, core: Core, figures: dict) -> dict:
    """The build's `figures` (model_figures) with its instructions and runtime flash on `core`."""
    models = built.stage_models()
    try:
        fw = image.build(built, core.board, emulated=True)
        instructions = timing.measure(models, core.board, check=True)
    except EennError as e:
        if not _does_not_fit(e):
            raise
        return {**figures, "fits": False}
    return {**figures, "fits": True, "instructions": instructions, "total_instructions": sum(instructions),
            "per_mac": sum(instructions) / sum(figures["macs"]),
            "runtime_flash_bytes": fw.size["flash_bytes"] - model_constant_bytes(fw.elf)}


def run(out_root: Path = Path("generated"), cpus=CPUS, models=MODELS, progress: bool = True) -> dict:
    """Every layer and model on every core."""
    from tqdm import tqdm

    chosen = cores(cpus)
    builds, figures = {}, {}
    for name in tqdm(models, desc="building models", unit="model", disable=not progress, leave=False):
        builds[name] = build_model(name, Path(out_root))
        figures[name] = model_figures(builds[name])
    results = {"layers": {}, "models": {}}
    work = [(core, kind, name) for core in chosen for kind, name in
            [("layers", None)] + [("models", m) for m in models]]
    for core, kind, name in tqdm(work, desc="benchmarks", unit="run", disable=not progress, leave=False):
        if kind == "layers":
            results["layers"][core.cpu] = bench_layers(core)
        else:
            results["models"].setdefault(name, {})[core.cpu] = bench_model(builds[name], core, figures[name])
    results["machines"] = {core.cpu: core.board.emulation.machine for core in chosen}
    return results


def targets(results: dict) -> list:
    """The issue's targets that the results miss, one line each (empty: all met)."""
    missed = []
    for cpu, limits in TARGETS.items():
        layers = results["layers"].get(cpu, {})
        for key, limit in limits.items():
            r = layers.get(key)
            if r is not None and r.get("per_mac", float("inf")) > limit:
                figure = f"{r['per_mac']:.2f} instructions per MAC" if "per_mac" in r else "does not fit"
                missed.append(f"layer {key} ({r['layer']}) on {cpu}: {figure}, target {limit}")
    for name in MLPERF_TINY:
        for cpu, r in results["models"].get(name, {}).items():
            if r["arena_bytes"] > ARENA_TARGET * r["tflm_arena_bytes"]:
                missed.append(f"{name}: arena {r['arena_bytes']:,} bytes > {ARENA_TARGET} x TFLM's "
                              f"{r['tflm_arena_bytes']:,}")
                break
    for name, per_cpu in results["models"].items():
        for cpu, r in per_cpu.items():
            if r["fits"] and r["runtime_flash_bytes"] > RUNTIME_FLASH_TARGET:
                missed.append(f"{name} on {cpu}: {r['runtime_flash_bytes']:,} bytes of flash beyond the "
                              f"constants > {RUNTIME_FLASH_TARGET:,}")
    return missed


def compare(previous: dict, results: dict) -> list:
    """Figures worse than the previous run's by more than REGRESSION, one line each."""
    worse = []

    def check(what, old, new):
        if old is not None and new is not None and new > old * (1 + REGRESSION):
            worse.append(f"{what}: {old:,.0f} -> {new:,.0f} ({100 * (new / old - 1):+.1f}%)")

    for cpu, per_layer in results["layers"].items():
        for key, r in per_layer.items():
            old = previous.get("layers", {}).get(cpu, {}).get(key, {})
            check(f"layer {key} on {cpu}, instructions", old.get("instructions"), r.get("instructions"))
    for name, per_cpu in results["models"].items():
        for cpu, r in per_cpu.items():
            old = previous.get("models", {}).get(name, {}).get(cpu, {})
            for field in ("total_instructions", "arena_bytes", "runtime_flash_bytes"):
                check(f"{name} on {cpu}, {field.replace('_', ' ')}", old.get(field), r.get(field))
    return worse


def markdown(results: dict) -> str:
    """The layer and model tables."""
    cpus = list(results["machines"])
    rows = []
    for key, layer in LAYERS.items():
        if key not in results["layers"].get(cpus[0], {}):
            continue
        cells = [key, layer.name, f"{results['layers'][cpus[0]][key]['macs']:,}"]
        for cpu in cpus:
            r = results["layers"][cpu][key]
            cells.append(_per_mac(r))
        rows.append(cells)
    larger = sorted({r["board"] for per in results["layers"].values() for r in per.values()
                     if "board" in r and not r["fits"]})
    note = f"; * on a board with more RAM for the same code: {', '.join(larger)}" if larger else ""
    text = [f"Single layers, instructions per MAC (QEMU count, GCC -O2{note}):", "",
            _markdown_table(["", "layer", "MACs", *cpus], rows), ""]
    compared = [cpu for cpu in cpus if cpu in TARGETS]
    if compared:
        rows = [[key, *(cell for cpu in compared for cell in (_per_mac(results["layers"][cpu][key]),
                                                            f"{CMSIS_NN[cpu][key]:.2f}", f"{TARGETS[cpu][key]}"))]
                for key in LAYERS if key in results["layers"].get(compared[0], {})]
        header = [""] + [f"{cpu} {what}" for cpu in compared for what in ("", "CMSIS-NN", "target")]
        text += ["Against CMSIS-NN on the same core (its DSP path on the M4, Helium on the M55, plain C on the "
                 "M0), instructions per MAC:", "", _markdown_table(header, rows), ""]
    rows = []
    for name, per_cpu in results["models"].items():
        first = next(iter(per_cpu.values()))
        cells = [name, f"{sum(first['macs']):,}", f"{first['arena_bytes']:,}", f"{first['tflm_arena_bytes']:,}",
                 f"{first['arena_bytes'] / first['tflm_arena_bytes']:.2f}"]
        for cpu in cpus:
            r = per_cpu[cpu]
            cells.append(f"{r['total_instructions']:,.0f} ({r['per_mac']:.2f}/MAC)" if r["fits"] else "does not fit")
        flash = [r["runtime_flash_bytes"] for r in per_cpu.values() if r["fits"]]
        cells.append(f"{max(flash):,}" if flash else "")
        rows.append(cells)
    text += ["Models with their default exits, every stage run (instructions per inference):", "",
             _markdown_table(["model", "MACs", "arena", "TFLM arena", "ratio", *cpus, "runtime flash"], rows), "",
             "Their ops:", ""]
    text += [f"- {name}: {', '.join(next(iter(per_cpu.values())).get('ops', []))}"
             for name, per_cpu in results["models"].items()]
    return "\n".join(text)


def _per_mac(r: dict) -> str:
    if "per_mac" not in r:
        return "does not fit"
    return f"{r['per_mac']:.2f}" + ("" if r["fits"] else "*")


def plot(results: dict, path: Path) -> None:
    """Instructions per MAC of every layer on every core, with each core's target."""
    import numpy as np

    from ..util import plots

    cpus = list(results["machines"])
    keys = list(LAYERS)
    fig, ax = plots.figure(8, 4.5)
    width = 0.8 / len(cpus)
    for i, cpu in enumerate(cpus):
        values = [results["layers"].get(cpu, {}).get(k, {}).get("per_mac", np.nan) for k in keys]
        at = np.arange(len(keys)) + (i - (len(cpus) - 1) / 2) * width
        ax.bar(at, values, width, label=cpu)
        if cpu in TARGETS:
            ax.scatter(at, [TARGETS[cpu].get(k, np.nan) for k in keys], marker="_", s=120, color="k",
                       label="target" if i == 0 or "target" not in ax.get_legend_handles_labels()[1] else None)
    kinds = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense"}
    ax.set_xticks(range(len(keys)), [f"{k}\n{kinds[LAYERS[k].kind]}" for k in keys])
    ax.set_yscale("log")
    plots.save(fig, ax, path, "Single layers under QEMU, with each core's target", "layer", "instructions per MAC",
               fontsize="small")


def _markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def save(results: dict, directory: Path) -> "tuple[Path, list]":
    """Write results.json, results.md and layers.png into `directory`; the regressions against
    the previous results.json there."""
    path = Path(directory) / "results.json"
    previous = json.loads(path.read_text()) if path.exists() else None
    regressions = compare(previous, results) if previous else []
    atomic.write_json(path, results)
    atomic.write_text(Path(directory) / "results.md", markdown(results) + "\n")
    plot(results, Path(directory) / "layers.png")
    return path, regressions


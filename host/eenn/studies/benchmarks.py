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
# Instructions per MAC of the best public kernels on the Cortex-M4, counted the same way (issue 8).
M4_TARGETS = {"a": 2.3, "b": 2.0, "c": 7.5, "d2": 1.9, "e": 4.7}
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


def cores(cpus=CPUS) -> list:
    return [Core(cpu, predict.measuring_board(cpu)) for cpu in cpus]


def _does_not_fit(error: EennError) -> bool:
    """Whether the error is the core's memory refusing the code (then the figure is 'does not fit')."""
    return "overflows" in str(error) or "does not fit" in str(error)


def bench_layers(core: Core) -> dict:
    results = {}
    for key, layer in LAYERS.items():
        macs = layer.macs
        try:
            (instructions,) = timing.measure([("layer.tflite", layer.tflite)], core.board)
        except EennError as e:
            if not _does_not_fit(e):
                raise
            results[key] = {"layer": layer.name, "macs": macs, "fits": False}
            continue
        results[key] = {"layer": layer.name, "macs": macs, "fits": True, "instructions": instructions,
                        "per_mac": instructions / macs}
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
    m4 = results["layers"].get("cortex-m4", {})
    for key, limit in M4_TARGETS.items():
        if key in m4 and m4[key]["per_mac"] > limit:
            missed.append(f"layer {key} ({m4[key]['layer']}) on cortex-m4: {m4[key]['per_mac']:.2f} "
                          f"instructions per MAC, target {limit}")
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
            cells.append(f"{r['per_mac']:.2f}" if r["fits"] else "does not fit")
        cells.append(f"{M4_TARGETS[key]}" if key in M4_TARGETS else "")
        rows.append(cells)
    text = ["Single layers, instructions per MAC (QEMU count, GCC -O2):", "",
            _markdown_table(["", "layer", "MACs", *cpus, "M4 target"], rows), ""]
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


def plot(results: dict, path: Path) -> None:
    """Instructions per MAC of every layer on every core, with the Cortex-M4 targets."""
    import numpy as np

    from ..util import plots

    cpus = list(results["machines"])
    keys = list(LAYERS)
    fig, ax = plots.figure(8, 4.5)
    width = 0.8 / len(cpus)
    for i, cpu in enumerate(cpus):
        values = [results["layers"].get(cpu, {}).get(k, {}).get("per_mac", np.nan) for k in keys]
        ax.bar(np.arange(len(keys)) + (i - (len(cpus) - 1) / 2) * width, values, width, label=cpu)
    for j, key in enumerate(keys):
        if key in M4_TARGETS:
            ax.hlines(M4_TARGETS[key], j - 0.45, j + 0.45, colors="k", linestyles="--",
                      label="Cortex-M4 target" if j == 0 else None)
    kinds = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense"}
    ax.set_xticks(range(len(keys)), [f"{k}\n{kinds[LAYERS[k].kind]}" for k in keys])
    plots.save(fig, ax, path, "Single layers under QEMU (missing bars: the layer does not fit the M0's RAM)",
               "layer", "instructions per MAC", fontsize="small")


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


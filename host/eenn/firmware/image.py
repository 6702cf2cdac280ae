"""Firmware for one board: the generated model, startup code, the board's UART and cost
counter drivers and the serving loop (firmware_templates/firmware/), compiled with
arm-none-eabi-gcc into generated/<name>/<board>/ (or <board>-qemu/ for the emulated twin;
-replay for a build that replays test samples built into it instead of serving a host).

The model is checked against the board's budgets before compiling (with the numbers),
the linker enforces them again, and the size report gives flash and RAM per section from
the ELF and the worst stack depth from GCC's call graph. A build whose inputs did not
change is not redone.
"""

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import jinja2
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from .. import protocol
from ..artifact import Build, CodeSummary
from ..codegen import kernels
from ..codegen.emit import TEMPLATES
from ..decision import mechanisms
from ..errors import EennError
from ..hardware import boards
from ..project import DeploymentConfig
from ..report import firmware_lines
from ..util import atomic

SOURCES = TEMPLATES / "firmware"
COMPILER = "arm-none-eabi-gcc"
OBJCOPY = "arm-none-eabi-objcopy"
STACK_BYTES = 4096
UART_SOURCES = {"cmsdk-uart": "uart_cmsdk.c", "nrf-uart": "uart_nrf.c", "stm32-usart": "uart_stm32.c"}
COUNTER_SOURCES = {"dwt": "counter_dwt.c", "systick": "counter_systick.c", "nrf-timer": "counter_nrf_timer.c"}
CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-ffunction-sections", "-fdata-sections")
CALL_GRAPH = "-fcallgraph-info=su"  # per object: a .ci file with every function's frame and its calls
LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections")
EXCEPTION_FRAME = {True: 104, False: 32}  # bytes the core stacks on an interrupt, with and without FP context
SIZE_REPORT = "size.json"
SIZE_TEXT = "size.txt"


@dataclass(frozen=True)
class Firmware:
    directory: Path
    board: boards.Board
    emulated: bool
    replay: int  # test samples the image replays; 0: it serves a host
    deployment: DeploymentConfig  # with a split, the stages from deployment.split on run on an edge host
    build_id: str
    size: dict
    rebuilt: bool

    @property
    def elf(self) -> Path:
        return self.directory / "firmware.elf"


def output_directory(directory: Path, board: boards.Board, emulated: bool, replay: int = 0,
                     deployment: DeploymentConfig = DeploymentConfig()) -> Path:
    split = "" if deployment.split is None else f"split{deployment.split}" + ("" if deployment.fallback else "-alone")
    parts = [board.name, "qemu" if emulated else "", "replay" if replay else "", split]
    return Path(directory) / "-".join(p for p in parts if p)



def _check_budget(board: boards.Board, code: CodeSummary, replay_bytes: int = 0) -> None:
    ram = code.arena_bytes + STACK_BYTES
    constants = code.weight_bytes + replay_bytes
    if ram > board.memory.ram_bytes or constants > board.memory.flash_bytes:
        samples = f" and replayed samples {replay_bytes:,}" if replay_bytes else ""
        raise EennError(
            f"the model does not fit {board.name}: it needs at least {ram:,} bytes of RAM (arena "
            f"{code.arena_bytes:,} + stack {STACK_BYTES:,}) of {board.memory.ram_bytes:,}, and "
            f"{constants:,} bytes of flash for constants{samples} of {board.memory.flash_bytes:,}")


def _run(cmd: list, what: str) -> None:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode:
        overflow = re.search(r"region `(\w+)' overflowed by (\d+) bytes", done.stderr)
        if overflow:
            raise EennError(f"{what}: the firmware overflows {overflow.group(1)} by {int(overflow.group(2)):,} bytes")
        raise EennError(f"{what} failed: {done.stderr.strip()}")


def _section_sizes(elf_path: Path, board: boards.Board, ram_origin: int) -> dict:
    sections = {}
    with open(elf_path, "rb") as f:
        for s in ELFFile(f).iter_sections():
            if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_size"]:
                in_ram = ram_origin <= s["sh_addr"] < ram_origin + board.memory.ram_bytes
                loaded = s["sh_type"] != "SHT_NOBITS"
                sections[s.name] = {"bytes": s["sh_size"], "flash": loaded, "ram": in_ram}
    return sections


def _worst_stack(directory: Path, fpu: bool) -> dict:
    """Deepest call chain from Reset_Handler (frames from GCC's call-graph files), plus the
    deepest interrupt handler on top of it."""
    frames, calls = {}, {}
    for ci in directory.glob("*.ci"):
        text = ci.read_text()
        for name, size in re.findall(r'node: \{ title: "([^"]+)" label: "[^"]*\\n(\d+) bytes', text):
            frames[name] = max(frames.get(name, 0), int(size))
        for source, target in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
            calls.setdefault(source, set()).add(target)

    def depth(name, seen=()):
        if name in seen or name == "__indirect_call":
            raise EennError(f"{'recursion through' if name in seen else 'an indirect call from'} {seen[-1]}: "
                            "the stack depth has no static bound")
        return frames.get(name, 0) + max((depth(c, (*seen, name)) for c in calls.get(name, ())), default=0)

    thread = depth("Reset_Handler")
    handler = max(depth(h) for h in ("SysTick_Handler", "Fault_Handler", "Default_Handler"))
    return {"thread": thread, "interrupt": handler + EXCEPTION_FRAME[fpu], "worst": thread + handler + EXCEPTION_FRAME[fpu]}


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(SOURCES), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def decision_config(spec: mechanisms.DecisionSpec, num_stages: int) -> str:
    """decision_config.h: the chosen mechanism and its constants for decision.c."""
    return _environment().get_template("decision_config.h.j2").render(
        spec=spec, version=version("eenn"), definitions=mechanisms.c_definitions(spec, num_stages))


def _render(board, emulated, model_name: str, digest: bytes, build_id: str, num_stages: int, replay: bool = False,
            deployment: DeploymentConfig = DeploymentConfig()) -> dict:
    """The board's configuration header, linker script and driver sources."""
    env = _environment()
    counter = "systick" if emulated else board.cost.counter
    edge = {"stage": num_stages, "fallback": True, "timeout_ticks": 0}
    if deployment.split is not None:
        edge = {"stage": deployment.split, "fallback": deployment.fallback,
                "timeout_ticks": max(1, round(deployment.edge_timeout_ms * 1e-3 * board.counter_hz(emulated)))}
    context = dict(board=board, emulated=emulated, replay=replay, edge=edge, version=version("eenn"),
                   model_name=model_name,
                   build_id=build_id, digest=[f"0x{b:02x}" for b in digest],
                   cost_unit=protocol.COUNTER_UNITS[counter],
                   uart=board.emulated_uart if emulated else board.uart, stack_bytes=STACK_BYTES,
                   machine=board.emulation.machine if emulated else None,
                   flash_origin=board.emulation.flash_origin if emulated else board.memory.flash_origin,
                   ram_origin=board.emulation.ram_origin if emulated else board.memory.ram_origin)
    return {
        "firmware_config.h": env.get_template("firmware_config.h.j2").render(context),
        "protocol.h": env.get_template("protocol.h.j2").render(protocol=protocol.PROTOCOL, offsets=protocol.offsets(),
                                                               version=version("eenn")),
        "linker.ld": env.get_template("linker.ld.j2").render(context),
        "sources": ["startup.c", UART_SOURCES[context["uart"].driver], COUNTER_SOURCES[counter]],
        "ram_origin": context["ram_origin"],
    }


def _compile(tmp: Path, sources: list, include: Path, board: boards.Board, compile_flags=()) -> Path:
    """Compile `sources` with the headers in `tmp`, `include` and SOURCES; link tmp/firmware.elf."""
    flags = [*board.cflags, *CFLAGS, *kernels.defines(board.kernels)]
    objects = []
    for source in sources:
        obj = tmp / f"{source.stem}.o"
        _run([COMPILER, *flags, *compile_flags, "-I", tmp, "-I", include, "-I", SOURCES, "-c", source, "-o", obj],
             f"compiling {source.name} for {board.name}")
        objects.append(obj)
    elf = tmp / "firmware.elf"
    _run([COMPILER, *flags, *LDFLAGS, "-T", tmp / "linker.ld", f"-Wl,-Map={tmp / 'firmware.map'}", *objects,
          "-o", elf], f"linking for {board.name}")
    return elf


def _check_tools() -> None:
    for tool in (COMPILER, OBJCOPY):
        if shutil.which(tool) is None:
            raise EennError(f"{tool} not found: install the Debian package gcc-arm-none-eabi ('make setup')")


def build_benchmark(src: Path, board: boards.Board, out: Path) -> Path:
    """An emulated image that times every stage of the generated sources in `src` (bench.c)
    instead of serving samples; returns its ELF, written into `out`."""
    return build_program(kernels.sources(src, board.kernels) + [SOURCES / "bench.c"], Path(src), board, out)


def build_program(sources: list, include: Path, board: boards.Board, out: Path) -> Path:
    """An emulated image of `sources` (one of them defines main; headers from `include` and the
    firmware's own, hal.h) with the board's startup, UART and counter, compiled with the flags
    of its kernel path; returns its ELF, written into `out`."""
    if board.emulation is None:
        raise EennError(f"board {board.name} has no emulation entry")
    _check_tools()
    rendered = _render(board, True, "benchmark", bytes(32), "benchmark", num_stages=0)
    sources = [*sources, *(SOURCES / name for name in rendered["sources"])]
    with atomic.staged_directory(out) as tmp:
        (tmp / "firmware_config.h").write_text(rendered["firmware_config.h"])
        (tmp / "protocol.h").write_text(rendered["protocol.h"])
        (tmp / "linker.ld").write_text(rendered["linker.ld"])
        _compile(tmp, sources, Path(include), board)
    return Path(out) / "firmware.elf"


def replay_samples(model_name: str, records, count: int) -> str:
    """replay_samples.c: the first `count` quantized test inputs, for a replay build."""
    if records.inputs is None:
        raise EennError("these records keep no inputs; run 'eenn build' again")
    if not 1 <= count <= min(len(records.inputs), protocol.SEQUENCES):
        raise EennError(f"cannot replay {count} samples: the test split has {len(records.inputs)}, and a record's "
                        f"sequence number tells {protocol.SEQUENCES:,} apart")
    samples = records.inputs[:count].reshape(count, -1).astype(int).tolist()
    return _environment().get_template("replay_samples.c.j2").render(
        count=count, samples=samples, model_name=model_name, version=version("eenn"))


def build(built: Build, board: boards.Board, emulated: bool = False, decision: "mechanisms.DecisionSpec | None" = None,
          replay: int = 0, deployment: DeploymentConfig = DeploymentConfig()) -> Firmware:
    """The firmware of `built` for `board`, with the build's exit decision unless `decision`
    replaces it; with `replay`, an image that replays that many test samples forever instead
    of serving a host; with a `deployment` split, one that leaves the last stages to an edge host."""
    if emulated and board.emulation is None:
        raise EennError(f"board {board.name} has no emulation entry")
    manifest = built.manifest
    src = built.sources
    code = built.code()
    num_stages = len(manifest.stages)
    deployment.validate(num_stages)
    split = deployment.split is not None
    chosen = kernels.chosen(board.kernels)
    kernel_files = {f: chosen[f] for f in sorted({k["kernel"] for s in code.stages for k in s.kernels})}
    generated, replay_bytes = {}, 0
    if replay:
        records = built.records("test")
        generated["replay_samples.c"] = replay_samples(manifest.name, records, replay)
        replay_bytes = replay * records.inputs[0].size
    _check_budget(board, code, replay_bytes)
    _check_tools()

    placeholder = "@BUILD_ID@"
    spec = decision or manifest.decision.spec
    rendered = _render(board, emulated, manifest.name, manifest.model_digest, placeholder, num_stages,
                       bool(replay), deployment)
    rendered["decision_config.h"] = decision_config(spec, num_stages)
    runtime = ["main.c", "decision.c", "framing.c", *(["edge.c"] if split else []), *rendered["sources"]]
    sources = kernels.sources(src, board.kernels) + [SOURCES / name for name in runtime]
    model_flags = [f"-DEENN_DEVICE_STAGES={deployment.split}"] if split and not deployment.fallback else []
    headers = sorted(src.glob("*.h")) + sorted(SOURCES.glob("*.h"))
    flags = [*board.cflags, *CFLAGS, *kernels.defines(board.kernels), *model_flags]
    digest = hashlib.sha256()
    for part in [*(p.read_bytes() for p in sources + headers), rendered["firmware_config.h"].encode(),
                 rendered["protocol.h"].encode(),
                 rendered["decision_config.h"].encode(), rendered["linker.ld"].encode(),
                 *(text.encode() for text in generated.values()), " ".join(flags + list(LDFLAGS)).encode()]:
        digest.update(hashlib.sha256(part).digest())
    build_id = digest.hexdigest()[:16]

    out = output_directory(built.directory, board, emulated, replay, deployment)
    try:
        size = json.loads((out / SIZE_REPORT).read_text())
        if size["build_id"] == build_id and (out / "firmware.elf").exists():
            return Firmware(out, board, emulated, replay, deployment, build_id, size, rebuilt=False)
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        pass

    with atomic.staged_directory(out) as tmp:
        (tmp / "firmware_config.h").write_text(rendered["firmware_config.h"].replace(placeholder, build_id))
        (tmp / "protocol.h").write_text(rendered["protocol.h"])
        (tmp / "linker.ld").write_text(rendered["linker.ld"])
        (tmp / "decision_config.h").write_text(rendered["decision_config.h"])
        for name, text in generated.items():
            (tmp / name).write_text(text)
        elf = _compile(tmp, sources + [tmp / name for name in generated], src, board, [CALL_GRAPH, *model_flags])
        _run([OBJCOPY, "-O", "ihex", elf, tmp / "firmware.hex"], "objcopy")
        _run([OBJCOPY, "-O", "binary", elf, tmp / "firmware.bin"], "objcopy")
        sections = _section_sizes(elf, board, rendered["ram_origin"])
        stack = _worst_stack(tmp, board.fpu)
        if stack["worst"] > STACK_BYTES:
            raise EennError(f"{board.name}: the deepest call chain needs {stack['worst']:,} bytes of stack; "
                            f"{STACK_BYTES:,} are reserved")
        size = {
            "build_id": build_id, "board": board.name, "emulated": emulated, "replay": replay,
            "flash_bytes": sum(s["bytes"] for s in sections.values() if s["flash"]),
            "flash_budget": board.memory.flash_bytes,
            "ram_bytes": sum(s["bytes"] for s in sections.values() if s["ram"]),
            "ram_budget": board.memory.ram_bytes, "stack": stack, "sections": sections,
            "kernels": {"path": board.kernels, "files": kernel_files},
        }
        atomic.write_json(tmp / SIZE_REPORT, size)
        (tmp / SIZE_TEXT).write_text(firmware_lines(size) + "\n")
    return Firmware(out, board, emulated, replay, deployment, build_id, size, rebuilt=True)

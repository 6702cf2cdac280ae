"""Code generation: int8 stages -> C sources for the device, with a static memory plan.

Read (IR) -> lower (kernel calls, constants) -> plan (one arena for all stages) -> emit
(Jinja templates in firmware_templates/, plus every kernel source; a build compiles the
variants of its board's path, eenn.codegen.kernels). Everything is checked before anything
is written, and the output directory is replaced whole.
"""

import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import jinja2
import numpy as np

from .. import ops, resources
from ..errors import EennError
from ..tflite import ir
from ..util import atomic
from . import fusion, kernels, memory

TEMPLATES = resources.templates_dir()
KERNELS = TEMPLATES / "kernels"
VALUES_PER_LINE = 16
CTYPE_BYTES = {"int8_t": 1, "int16_t": 2, "int32_t": 4}


@dataclass(frozen=True)
class StageCode:
    index: int
    source: str  # the .tflite it came from
    calls: tuple  # ops.KernelCall, in order (as the segments hold them)
    constants: tuple  # (tensor, int8 values) of the constant tensors the calls read as inputs
    segments: tuple  # fusion.Segment, in order
    macs: int
    weight_bytes: int  # constant arrays in flash
    arena_bytes: int  # arena extent this stage touches
    input_offsets: tuple  # arena offset of each input of the stage
    exit_offset: int
    exit_bytes: int
    boundary_offset: int  # 0 for the last stage
    boundary_bytes: int


@dataclass(frozen=True)
class Generated:
    directory: Path
    stages: tuple
    plan: memory.Plan


def _c_values(values) -> str:
    text = [str(v) for v in values]
    return ",\n".join("    " + ", ".join(text[i:i + VALUES_PER_LINE]) for i in range(0, len(text), VALUES_PER_LINE))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["c_values"] = _c_values
    env.globals["layout_names"] = kernels.LAYOUT_PATHS
    env.tests["const_array"] = lambda v: isinstance(v, ops.ConstArray)
    env.tests["params"] = lambda v: isinstance(v, ops.Params)
    return env


def _stage_code(k, name, tflite, graph, segments, plan, step_range) -> StageCode:
    first, last = step_range
    extent = max((v.offset + v.size for v in plan.values if v.first <= last and first <= v.last), default=0)
    calls = [c for seg in segments for c in seg.calls]
    arrays = [v for c in calls if c.params for _, v in c.params.items() if isinstance(v, ops.ConstArray)]
    read = dict.fromkeys(t for c in calls for t in c.inputs if graph.tensors[t].is_constant)
    constants = tuple((t, tuple(int(v) for v in graph.tensors[t].data.reshape(-1))) for t in read)
    weight_bytes = sum(len(a.values) * CTYPE_BYTES[a.ctype] for a in arrays) + sum(len(v) for _, v in constants)
    has_boundary = len(graph.outputs) > 1
    boundary = graph.outputs[-1]
    macs = sum(ops.macs(graph, op) for op in graph.ops)
    return StageCode(k, name, tuple(calls), constants, tuple(segments), macs, weight_bytes, extent,
                     tuple(plan.offset(k, t) for t in graph.inputs),
                     plan.offset(k, graph.outputs[0]), graph.tensors[graph.outputs[0]].nbytes,
                     plan.offset(k, boundary) if has_boundary else 0,
                     graph.tensors[boundary].nbytes if has_boundary else 0)


def generate(stages: list, out_dir: Path, model_name: str = "eenn") -> Generated:
    """Write the C sources of `stages` (a list of (file name, .tflite bytes)) into `out_dir`."""
    graphs = [ir.read(tflite) for _, tflite in stages]
    calls = [ops.lower(g, k) for k, g in enumerate(graphs)]
    schedules, plan = fusion.arena_plan(graphs, calls)
    steps, start = [], 0
    for segments in schedules:
        steps.append((start, start + len(segments) - 1))
        start += len(segments)
    codes = [_stage_code(k, name, tflite, graphs[k], schedules[k], plan, steps[k])
             for k, (name, tflite) in enumerate(stages)]
    first = graphs[0].tensors[graphs[0].inputs[0]]
    exits = {g.tensors[g.outputs[0]].shape[-1] for g in graphs}
    if len(exits) != 1:
        raise EennError(f"exits disagree on the number of classes: {sorted(exits)}")
    num_classes = exits.pop()
    context = dict(model_name=model_name, version=version("eenn"), stages=codes, plan=plan,
                   alignment=memory.ALIGNMENT, num_classes=num_classes, input=first,
                   input_scale=repr(float(np.float32(first.quantization.scale[0]))),
                   input_zero_point=first.quantization.zero_point[0],
                   cumulative_macs=list(np.cumsum([c.macs for c in codes])))
    env = _environment()
    with atomic.staged_directory(out_dir) as tmp:
        for code, graph in zip(codes, graphs):
            k = code.index

            def symbol(call, array=None, k=k):
                base = f"stage{k}_op{call.op.index}"
                return f"{base}_{array.name}" if array is not None else base

            def constant(t, k=k):
                return f"stage{k}_tensor{t}"

            def input_pointer(t, k=k, constants={c for c, _ in code.constants}):
                """The pointer a kernel reads input tensor t from."""
                if t in constants:
                    return constant(t)
                return f"(const int8_t *)(arena + {plan.offset(k, t)})"

            def tensor_name(t, graph=graph):
                return graph.tensors[t].name

            def tensor_names(call):
                names = lambda ts: ", ".join(tensor_name(t) for t in ts)  # noqa: E731
                return f"{names(call.inputs)} -> {names([call.output])}"

            def segment_symbol(segment, k=k):
                return f"stage{k}_op{segment.calls[0].op.index}_rows"

            def scratch(call, k=k):
                if not call.scratch_bytes:
                    return "0"
                return f"(int8_t *)(arena + {plan.scratch_offset(k, call.op.index)})"

            text = env.get_template("eenn_stage.c.j2").render(
                context, stage=code, symbol=symbol, tensor_names=tensor_names, scratch=scratch,
                segment_symbol=segment_symbol, constant=constant, input_pointer=input_pointer, tensor_name=tensor_name,
                offset=lambda t, k=k: plan.offset(k, t))
            (tmp / f"eenn_stage{k}.c").write_text(text)
        for template in ("eenn_model.h", "eenn_model.c"):
            (tmp / template).write_text(env.get_template(f"{template}.j2").render(context))
        for source in [*KERNELS.glob("*.h"), *KERNELS.glob("*/*.c")]:
            shutil.copyfile(source, tmp / source.name)
    return Generated(Path(out_dir), tuple(codes), plan)

"""Cut one full-int8 multi-exit flatbuffer into per-stage flatbuffers that chain on int8.

The whole EENN is quantized once (one calibration for every tensor), so the boundary tensor
between two stages has one quantization by construction: stage k's output and stage k+1's
input are the same tensor of the original model. Stage k holds the ops exit k needs that no
earlier stage ran; its outputs are exit k's int8 probabilities and, but for the last stage,
the one boundary tensor later stages read.
"""

import copy
from dataclasses import dataclass

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from .. import ops
from ..errors import EennError
from ..tflite import flatbuffer as fb, ir

# Integer types that may appear in constants: int8 weights, int32 biases, shapes and axes.
_CONSTANT_TYPES = {schema.TensorType.INT8, schema.TensorType.INT32}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple
    quantization: "fb.Quantization | None"

    def as_dict(self) -> dict:
        q = self.quantization.as_dict() if self.quantization else None
        return {"name": self.name, "shape": list(self.shape), "quantization": q}


@dataclass(frozen=True)
class Stage:
    index: int
    tflite: bytes
    input: TensorInfo
    exit_output: TensorInfo
    boundary: "TensorInfo | None"  # None for the last stage
    macs: int
    ops: tuple  # builtin op names, in execution order


def check_int8(model) -> None:
    """Every op builtin, every activation int8, every constant int8 or int32."""
    sg = model.subgraphs[0]
    for i, op in enumerate(sg.operators):
        code = model.operatorCodes[op.opcodeIndex]
        name = fb.op_name(model, op)
        if name == "CUSTOM" or code.customCode:
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            raise EennError(f"op {i} is the custom op '{custom}'; only int8 builtin ops can run on the device")
        for t in [t for t in list(op.inputs) + list(op.outputs) if t >= 0]:
            tensor = sg.tensors[t]
            allowed = _CONSTANT_TYPES if fb.is_constant(model, tensor) else {schema.TensorType.INT8}
            if tensor.type not in allowed:
                raise EennError(
                    f"op {i} ({name}) uses tensor '{fb.tensor_name(tensor)}' of type "
                    f"{fb.TYPE_NAMES.get(tensor.type, tensor.type)}; expected a full-int8 model"
                )


def _tensor_info(sg, index) -> TensorInfo:
    t = sg.tensors[index]
    return TensorInfo(fb.tensor_name(t), fb.shape(t), fb.quantization(t))


def _producers(sg) -> dict:
    """Tensor index -> index of the op that writes it."""
    return {t: i for i, op in enumerate(sg.operators) for t in op.outputs}


def _ancestors(sg, producer: dict, tensor: int) -> set:
    seen, stack = set(), [tensor]
    while stack:
        op = producer.get(stack.pop())
        if op is not None and op not in seen:
            seen.add(op)
            stack.extend(t for t in sg.operators[op].inputs if t >= 0)
    return seen


def _submodel(model, op_indices: list, inputs: list, outputs: list):
    """A one-subgraph model holding only `op_indices`, with its own tensors and buffers."""
    sg = model.subgraphs[0]
    new = schema.ModelT()
    new.version = model.version
    new.description = model.description
    new.buffers = [schema.BufferT()]
    new.operatorCodes = []
    tensor_map, buffer_map, code_map = {}, {}, {}
    new_sg = schema.SubGraphT()
    new_sg.name = sg.name
    new_sg.tensors, new_sg.operators = [], []

    def map_tensor(t):
        if t < 0:
            return t
        if t not in tensor_map:
            tensor = copy.copy(sg.tensors[t])
            if fb.is_constant(model, tensor):
                if tensor.buffer not in buffer_map:
                    buffer_map[tensor.buffer] = len(new.buffers)
                    new.buffers.append(model.buffers[tensor.buffer])
                tensor.buffer = buffer_map[tensor.buffer]
            else:
                tensor.buffer = 0
            tensor_map[t] = len(new_sg.tensors)
            new_sg.tensors.append(tensor)
        return tensor_map[t]

    for i in op_indices:
        op = copy.copy(sg.operators[i])
        if op.opcodeIndex not in code_map:
            code_map[op.opcodeIndex] = len(new.operatorCodes)
            new.operatorCodes.append(model.operatorCodes[op.opcodeIndex])
        op.opcodeIndex = code_map[op.opcodeIndex]
        op.inputs = [map_tensor(t) for t in op.inputs]
        op.outputs = [map_tensor(t) for t in op.outputs]
        new_sg.operators.append(op)
    new_sg.inputs = [tensor_map[t] for t in inputs]
    new_sg.outputs = [tensor_map[t] for t in outputs]
    new.subgraphs = [new_sg]
    return new


def full_model_macs(model_bytes: bytes, num_exits: int) -> int:
    """MACs of the network without its early heads: the final exit's ancestors."""
    return exit_macs(model_bytes, num_exits)[-1][0]


def exit_macs(model_bytes: bytes, num_exits: int) -> list:
    """Per exit of a multi-exit model, in any order (several may read one point): (MACs of the
    network's own ops it needs, MACs of its head), the network's own ops being the final exit's
    ancestors (the final exit: (all of them, 0))."""
    model = fb.read(model_bytes)
    sg = model.subgraphs[0]
    graph = ir.read(model_bytes)
    producer = _producers(sg)
    needed = [_ancestors(sg, producer, t) for t in _exit_tensors(model, num_exits)]

    def macs(op_indices):
        return sum(ops.macs(graph, graph.ops[i]) for i in op_indices)

    return [(macs(n & needed[-1]), macs(n - needed[-1])) for n in needed]


def exit_positions(model_bytes: bytes, num_exits: int) -> list:
    """Per exit (signature output_k), its position among the subgraph's outputs (the order an
    interpreter's get_output numbers them)."""
    model = fb.read(model_bytes)
    outputs = list(model.subgraphs[0].outputs)
    return [outputs.index(t) for t in _exit_tensors(model, num_exits)]


def _exit_tensors(model, num_exits: int) -> list:
    outputs = fb.signature_outputs(model)
    names = [f"output_{k}" for k in range(num_exits)]
    missing = [n for n in names if n not in outputs]
    if missing or len(outputs) != num_exits:
        raise EennError(f"the converted model has outputs {sorted(outputs)}; expected {names}")
    return [outputs[n] for n in names]


def _with_aliases(model, sg, producer: dict, members: list) -> list:
    """Each stage's ops, with a copy of every op of an earlier stage that only renames bytes
    (RESHAPE, SQUEEZE, EXPAND_DIMS: no code) between a tensor the stage reads and the op
    that made it: the converter often hands a convolution's output on both as it is and
    squeezed, and the cut then crosses the one tensor they share."""
    def renames(i):
        kind = ops.OPS.get(fb.op_name(model, sg.operators[i]))
        return kind is not None and kind.aliases_input

    members = [set(m) for m in members]
    for stage in members:
        pending = list(stage)
        while pending:
            for x in sg.operators[pending.pop()].inputs:
                p = producer.get(x)
                if p is not None and p not in stage and renames(p):
                    stage.add(p)
                    pending.append(p)
    return members


def split(model_bytes: bytes, num_exits: int) -> list:
    """Stages of a multi-exit model whose signature outputs output_0.. are the exits in order."""
    model = fb.read(model_bytes)
    if len(model.subgraphs) != 1:
        raise EennError(f"the model has {len(model.subgraphs)} subgraphs; expected one")
    check_int8(model)
    sg = model.subgraphs[0]
    producer = _producers(sg)
    consumers = {}
    for i, op in enumerate(sg.operators):
        for t in op.inputs:
            consumers.setdefault(t, set()).add(i)
    exit_tensors = _exit_tensors(model, num_exits)

    stage_of = {}
    for k, t in enumerate(exit_tensors):
        new_ops = _ancestors(sg, producer, t) - stage_of.keys()
        if not new_ops:
            raise EennError(f"exit {k} needs no op beyond the earlier exits: exits must be in network order")
        stage_of.update({i: k for i in new_ops})
    unused = set(range(len(sg.operators))) - stage_of.keys()
    if unused:
        raise EennError(f"ops {sorted(unused)} feed no exit; the model has parts no stage would run")
    members = _with_aliases(model, sg, producer, [{i for i, j in stage_of.items() if j == k} for k in range(num_exits)])

    graph = ir.read(model_bytes)
    stages = []
    model_input = list(sg.inputs)
    for k, t in enumerate(exit_tensors):
        inputs = sorted({
            x for i in members[k] for x in sg.operators[i].inputs
            if x >= 0 and not fb.is_constant(model, sg.tensors[x]) and producer.get(x) not in members[k]
        })
        later = sorted({
            x for i in members[k] for x in sg.operators[i].outputs
            if any(c in members[j] and i not in members[j]
                   for j in range(k + 1, num_exits) for c in consumers.get(x, ()))
        })
        if k == 0 and inputs != model_input:
            raise EennError(f"stage 0 reads tensors {inputs}; expected only the model input {model_input}")
        if len(inputs) != 1:
            names = ", ".join(fb.tensor_name(sg.tensors[x]) for x in inputs)
            raise EennError(f"stage {k} reads {len(inputs)} tensors from earlier stages ({names}); "
                            "the cut at this exit must cross exactly one tensor")
        if len(later) > (1 if k < num_exits - 1 else 0):
            names = ", ".join(fb.tensor_name(sg.tensors[x]) for x in later)
            raise EennError(f"stage {k} hands {len(later)} tensors to later stages ({names}); "
                            "the cut at this exit must cross exactly one tensor")
        if k < num_exits - 1 and not later:
            raise EennError(f"stage {k} hands nothing to stage {k + 1}")
        tflite = fb.write(_submodel(model, sorted(members[k]), inputs, [t] + later))
        ops.lower(ir.read(tflite), k)  # every op to code, before any interpreter prepares it
        stages.append(Stage(
            index=k,
            tflite=tflite,
            input=_tensor_info(sg, inputs[0]),
            exit_output=_tensor_info(sg, t),
            boundary=_tensor_info(sg, later[0]) if later else None,
            macs=sum(ops.macs(graph, graph.ops[i]) for i in sorted(members[k])),
            ops=tuple(fb.op_name(model, sg.operators[i]) for i in sorted(members[k])),
        ))
    return stages

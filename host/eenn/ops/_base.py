"""What every op module builds on: the lowered call (KernelCall, typed Params, ConstArray),
the checked view of an op's tensors that lowering reads (OpView, refusals that name the op),
and OpKind, the questions the tool asks of each op kind."""

from dataclasses import dataclass, fields

import numpy as np

from ..errors import EennError
from ..tflite.ir import Graph, Op
from . import _quantmath as qm


@dataclass(frozen=True)
class ConstArray:
    name: str  # unique within the op, e.g. "weights"
    ctype: str  # int8_t, int16_t or int32_t
    values: tuple
    layouts: tuple = ()  # (kernel path, ConstArray): the same constant as that path's kernels read it


@dataclass(frozen=True)
class Params:
    """A kernel's parameter struct (eenn_kernels.h): its fields, in order, are the struct's."""

    def items(self):
        """(field, value) in struct order: an int, a ConstArray the struct points to, or a
        Params of ints, a struct held inside it."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True)
class KernelCall:
    op: Op
    function: "str | None"  # None: the op only renames bytes (RESHAPE)
    params_type: "str | None"
    params: "Params | None"
    inputs: tuple  # tensor indices, in the kernel's argument order: activations, or constants (OpView.operand)
    output: int
    scratch_bytes: "int | None" = None  # arena bytes the kernel may use while it runs; None: no scratch argument
    rows: "int | None" = None  # rows the kernel computes in [first_row, end_row) calls; None: one call, no rows
    input_array: bool = False  # the kernel takes its inputs as one array of pointers (CONCATENATION)


class Refusal(EennError):
    """An op the kernels cannot run; `problem` says why, without the op's place."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


def refuse(graph: Graph, op: Op, stage: int, problem: str):
    names = lambda ts: ", ".join(f"'{graph.tensors[t].name}'" for t in ts if t >= 0)  # noqa: E731
    raise Refusal(f"stage {stage}, op {op.index} ({op.kind}): {problem} "
                  f"[inputs {names(op.inputs)}; outputs {names(op.outputs)}]", problem)


class OpView:
    """One op under lowering: typed access to its tensors, with refusals that name it."""

    def __init__(self, graph: Graph, op: Op, stage: int):
        self.graph, self.op, self.stage = graph, op, stage

    def refuse(self, problem: str):
        refuse(self.graph, self.op, self.stage, problem)

    def tensor(self, position: int, output=False):
        indices = self.op.outputs if output else self.op.inputs
        if position >= len(indices) or indices[position] < 0:
            self.refuse(f"{'output' if output else 'input'} {position} is missing")
        return self.graph.tensors[indices[position]]

    def activation(self, position: int, output=False):
        """An int8, per-tensor quantized, batch-1 activation (or a 1-D one, which the converter
        makes of a sample squeezed to its channels); returns (tensor, scale, zero point)."""
        t = self.tensor(position, output)
        role = f"{'output' if output else 'input'} '{t.name}'"
        if t.is_constant:
            self.refuse(f"{role} is a constant; the kernels take activations only")
        if t.dtype != np.int8:
            self.refuse(f"{role} has type {t.dtype}; the kernels handle int8 only")
        q = t.quantization
        if q is None or len(q.scale) != 1:
            self.refuse(f"{role} must have one (per-tensor) quantization scale")
        if not q.scale[0] > 0:
            self.refuse(f"{role} has scale {q.scale[0]}; it must be positive")
        if not t.shape or (len(t.shape) > 1 and t.shape[0] != 1):  # 1-D: one sample squeezed (1x1 spatial)
            self.refuse(f"{role} has shape {list(t.shape)}; the kernels handle batch 1 only")
        return t, q.scale[0], q.zero_point[0]

    def operand(self, position: int):
        """An activation, or an int8 constant quantized per tensor, that a kernel reads as it
        reads an activation (the generated code holds its values); (tensor, scale, zero point)."""
        t = self.tensor(position)
        if not t.is_constant:
            return self.activation(position)
        q = t.quantization
        if t.dtype != np.int8 or q is None or len(q.scale) != 1:
            self.refuse(f"constant '{t.name}' must be int8 with one (per-tensor) quantization scale")
        return t, q.scale[0], q.zero_point[0]

    def option(self, key, default=None):
        return self.op.options.get(key, default)

    def activation_range(self, output_scale, output_zero_point):
        name = self.option("fusedActivationFunction", "NONE")
        bounds = qm.activation_range(name, output_scale, output_zero_point)
        if bounds is None:
            self.refuse(f"fused activation {name} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1 are)")
        return bounds

    def spatial(self, in_shape, out_shape, kernel, stride, dilation=(1, 1)):
        """Padding of a windowed op; refuses an output shape TFLite would not produce."""
        padding = self.option("padding")
        if padding not in ("SAME", "VALID"):
            self.refuse(f"padding {padding} is not supported")
        if min(stride) < 1 or min(dilation) < 1:
            self.refuse(f"stride {stride} and dilation {dilation} must be at least 1")
        (oh, ph), (ow, pw) = (qm.same_or_valid(padding, in_shape[i], kernel[i], stride[i], dilation[i]) for i in (0, 1))
        if (oh, ow) != tuple(out_shape):
            self.refuse(f"output size {list(out_shape)} does not match {padding} padding ({oh}x{ow} expected)")
        return ph, pw

    def weights(self, position: int, axis: int):
        """Constant int8 weights, symmetric, per-tensor or per-channel along `axis`: (data, scales)."""
        t = self.tensor(position)
        if not t.is_constant or t.dtype != np.int8:
            self.refuse(f"weights '{t.name}' must be a constant int8 tensor")
        q = t.quantization
        if q is None or any(z != 0 for z in q.zero_point):
            self.refuse(f"weights '{t.name}' must be symmetrically quantized (zero point 0)")
        channels = t.shape[axis]
        if len(q.scale) not in (1, channels) or (len(q.scale) > 1 and q.axis != axis):
            self.refuse(f"weights '{t.name}' must be quantized per tensor or per channel along axis {axis}")
        return t.data, list(q.scale) * channels if len(q.scale) == 1 else list(q.scale)

    def bias(self, position: int, channels: int):
        """The int32 bias, zeros if the op has none (the kernels always add one)."""
        if position >= len(self.op.inputs) or self.op.inputs[position] < 0:
            return ConstArray("bias", "int32_t", (0,) * channels)
        t = self.tensor(position)
        if not t.is_constant or t.dtype != np.int32 or t.data.size != channels:
            self.refuse(f"bias '{t.name}' must be a constant int32 tensor of {channels} values")
        return ConstArray("bias", "int32_t", tuple(int(v) for v in t.data.reshape(-1)))


class OpKind:
    """What the tool asks of one TFLite op kind. An op module defines a subclass and lists an
    instance in its OPS; eenn.ops finds it there.

    kind           the TFLite builtin name (CONV_2D)
    function       the C kernel it lowers to (None: no code, the output aliases the input)
    source         its C file: kernels/portable/<source>.c, and kernels/dsp/<source>_dsp.c
                   for a variant on the DSP path (eenn.codegen.kernels)
    features       the counts its cost is linear in (eenn.costs); () for no kernel
    row_params     for ops that run row by row and fuse: the Params fields holding the rows
                   each input's buffer holds, in input order, and the output's (None: no
                   ring buffer for the output); None: the op does not fuse
    ends_segment   a fused segment may hold it only last (it writes its output at the end)
    aliases_input  its output is its input's bytes (the memory plan gives them one buffer)
    """

    kind: str
    function: "str | None" = None
    source: "str | None" = None
    features: tuple = ()
    row_params: "tuple | None" = None
    ends_segment: bool = False
    aliases_input: bool = False

    def lower(self, o: OpView) -> KernelCall:
        """The op's kernel call, every constant computed; o.refuse() on what the kernel cannot do."""
        raise NotImplementedError

    def macs(self, op: Op, graph: Graph) -> int:
        """Multiply-accumulates: every tap of the window, the padded border included."""
        return 0

    def count(self, call: KernelCall) -> dict:
        """The cost model's counts (`features`) of one call."""
        raise EennError(f"the cost model has no figures for kernel {call.function}")

    def trace(self, call: KernelCall, first_row: int, end_row: int):
        """The call's reads and writes computing rows [first_row, end_row) (eenn.codegen.overlap);
        None: no model of them, so its output may not overlap its inputs."""
        return None

    def input_rows(self, call: KernelCall, first: bool) -> np.ndarray:
        """For each output row, the first (or one past the last) input row it reads."""
        rows = np.arange(call.rows)
        return rows if first else rows + 1

    def rows_per_step(self, call: KernelCall) -> int:
        """Output rows the kernel computes together (a fused segment steps by them)."""
        return 1

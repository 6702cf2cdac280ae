"""The element-wise int8 ops of one activation -> eenn_lookup: LOGISTIC, TANH, HARD_SWISH,
LEAKY_RELU, RELU, RELU6 and QUANTIZE (int8 to int8). An int8 input has 256
values, so the host runs TFLM's integer arithmetic for each of them (eenn.ops._tables) and
the kernel looks the output up (kernels/portable/lookup.c)."""

from dataclasses import dataclass

import numpy as np

from . import _tables
from ._base import ConstArray, KernelCall, OpKind, Params
from ._windows import elementwise_trace


@dataclass(frozen=True)
class LookupParams(Params):
    row_size: int
    in_rows: int
    out_rows: int
    table: ConstArray  # int8_t[256], the output for input value v at v + 128


def lookup_call(o, table: np.ndarray, position: int = 0) -> KernelCall:
    """The call computing the output from input `position` element by element through
    `table`, in rows (the second axis) of a 4-D tensor, else in one row."""
    x, y = o.tensor(position), o.tensor(0, output=True)
    if x.shape != y.shape:
        o.refuse(f"input {list(x.shape)} and output {list(y.shape)} must have one shape")
    rows = x.shape[1] if len(x.shape) == 4 else 1
    values = ConstArray("table", "int8_t", tuple(int(v) for v in table))
    p = LookupParams(int(np.prod(x.shape)) // rows, rows, rows, values)
    return KernelCall(o.op, "eenn_lookup", "eenn_lookup_params", p, (o.op.inputs[position],), o.op.outputs[0],
                      rows=rows)


class Lookup(OpKind):
    """An op computed through a 256-entry table; `table(o, in_scale, in_zp, out_scale, out_zp)`
    gives it or raises ValueError naming what TFLM would refuse."""

    function = "eenn_lookup"
    source = "lookup"
    features = ("calls", "rows", "outputs")
    row_params = (("in_rows",), "out_rows")

    def __init__(self, kind: str, table):
        self.kind, self.table = kind, table

    def lower(self, o):
        _, in_scale, in_zp = o.activation(0)
        _, out_scale, out_zp = o.activation(0, output=True)
        try:
            table = self.table(o, in_scale, in_zp, out_scale, out_zp)
        except ValueError as e:
            o.refuse(str(e))
        return lookup_call(o, table)

    def count(self, call):
        return {"calls": 1, "rows": call.rows, "outputs": call.rows * call.params.row_size}

    def trace(self, call, first_row, end_row):
        return elementwise_trace(call, first_row, end_row)


def _plain(function):
    """A table function of the quantizations only."""
    return lambda o, *quantizations: function(*quantizations)


OPS = (
    Lookup("LOGISTIC", _plain(_tables.logistic)),
    Lookup("TANH", _plain(_tables.tanh)),
    Lookup("HARD_SWISH", _plain(_tables.hard_swish)),
    Lookup("LEAKY_RELU", lambda o, *q: _tables.leaky_relu(*q, float(np.float32(o.option("alpha", 0.0))))),
    Lookup("RELU", _plain(_tables.relu)),
    Lookup("RELU6", _plain(_tables.relu6)),
    Lookup("QUANTIZE", _plain(_tables.requantize)),
)

"""The op registry: every op module found, each op kind consistent with its kernel (a C
declaration, cost features, row fields that exist), and a model's unknown op refused with
the list of the ones eenn has."""

import pkgutil
import re
from dataclasses import fields

import pytest

from eenn import ops, resources
from eenn.codegen import singleop
from eenn.tflite import ir

KERNELS_H = (resources.templates_dir() / "kernels" / "eenn_kernels.h").read_text()


def test_every_op_module_is_registered():
    modules = {m.name for m in pkgutil.iter_modules(ops.__path__) if not m.name.startswith("_")}
    registered = {type(kind).__module__.rpartition(".")[2] for kind in ops.OPS.values()}
    assert registered == modules
    assert set(ops.OPS) >= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D",
                            "MEAN", "ADD", "SOFTMAX", "RESHAPE"}


KINDS = [*ops.OPS.values(), *ops.VARIANTS]


@pytest.mark.parametrize("op", KINDS, ids=[f"{op.kind}-{op.function}" for op in KINDS])
def test_an_op_kind_agrees_with_its_kernel(op):
    kind = op.kind
    if op.function is None:
        assert not op.features and op.row_params is None
        return
    assert re.search(rf"\bvoid {op.function}\(", KERNELS_H), f"{op.function} is not declared in eenn_kernels.h"
    assert op.features and op.features[0] == "calls"
    if op.row_params is not None:
        inputs, output = op.row_params
        call = ROW_BY_ROW[kind]().call
        assert set(inputs) | ({output} - {None}) <= {f.name for f in fields(call.params)}
        assert set(op.count(call)) == set(op.features)


ROW_BY_ROW = {  # a layer of each op kind that runs row by row
    "CONV_2D": lambda: singleop.conv2d((6, 6), 3, 4),
    "DEPTHWISE_CONV_2D": lambda: singleop.conv2d((6, 6), 4, 4, depthwise=True),
    "MAX_POOL_2D": lambda: singleop.pool("MAX_POOL_2D", (6, 6), 4),
    "AVERAGE_POOL_2D": lambda: singleop.pool("AVERAGE_POOL_2D", (6, 6), 4),
    "MEAN": lambda: singleop.mean((4, 4), 8),
    "ADD": lambda: singleop.add((4, 4), 8),
    "SUB": lambda: singleop.add((4, 4), 8, "SUB"),
    "REDUCE_MAX": lambda: singleop.reduce_max((4, 4), 8),
    **{kind: lambda: singleop.logistic((4, 4), 8) for kind, op in ops.OPS.items() if op.function == "eenn_lookup"},
}


def test_an_op_without_a_module_is_refused_with_the_known_ones():
    graph = ir.read(singleop.add((4, 4), 8).tflite)
    unknown = ir.Graph(graph.name, graph.tensors, (ir.Op(0, "CUMSUM", (0,), (2,), {}),), graph.inputs, graph.outputs)
    with pytest.raises(ops.Refusal, match=r"stage 3, op 0 \(CUMSUM\): no kernel for this op \(supported: ADD, "):
        ops.lower(unknown, 3)
    assert ops.macs(unknown, unknown.ops[0]) == 0

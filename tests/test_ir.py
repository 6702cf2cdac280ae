import numpy as np

from eenn.tflite import ir


def test_stage_reads_into_typed_ir(default_build):
    m = default_build.manifest
    g = ir.read((default_build.directory / m.stages[0].file).read_bytes())
    assert [op.kind for op in g.ops] == list(m.stages[0].ops)
    x = g.tensor(g.inputs[0])
    assert tuple(x.shape) == m.input.shape and x.dtype == np.int8 and not x.is_constant
    assert x.quantization.scale == m.input.quantization.scale
    conv = g.ops[0]
    assert conv.options["padding"] == "SAME" and conv.options["fusedActivationFunction"] == "RELU"
    w, b = g.tensor(conv.inputs[1]), g.tensor(conv.inputs[2])
    assert w.dtype == np.int8 and w.data.shape == w.shape == (8, 3, 3, 1)
    assert b.dtype == np.int32 and b.data.shape == (8,)
    assert len(w.quantization.scale) == 8 and w.quantization.axis == 0  # per-channel weights
    probs, boundary = (g.tensor(t) for t in g.outputs)
    assert probs.quantization.scale == (1 / 256,) and probs.quantization.zero_point == (-128,)
    assert tuple(boundary.shape) == m.stages[0].boundary.shape

"""Stages cut from one int8 model chain on int8: same quantization at every boundary, and
the chained stages compute exactly what the whole model computes under TFLM."""

from dataclasses import replace

import numpy as np
import pytest
from tflite_micro import runtime

from eenn import ops
from eenn.errors import EennError
from eenn.codegen import emit
from eenn.firmware import hostrun
from eenn.frontend import augment, quantize, stages, training, zoo
from eenn.frontend.heads import HeadSpec
from eenn.tflite import flatbuffer as fb, ir
from eenn.tflite.reference import StageChain


def _whole_outputs(model_bytes, num_exits, x):
    """The whole model's exit outputs under TFLM, in exit order."""
    model = fb.read(model_bytes)
    order = list(model.subgraphs[0].outputs)
    sig = fb.signature_outputs(model)
    interp = runtime.Interpreter.from_bytes(model_bytes)
    interp.set_input(x, 0)
    interp.invoke()
    return [interp.get_output(order.index(sig[f"output_{k}"])).reshape(-1) for k in range(num_exits)]


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_stages_chain_on_int8_with_identical_boundary_quantization(converted, name):
    entry, whole, x_float = converted(name)
    num_exits = len(entry.default_exits) + 1
    stage_list = stages.split(whole, num_exits)
    assert len(stage_list) == num_exits
    interps = [runtime.Interpreter.from_bytes(s.tflite) for s in stage_list]
    for k in range(num_exits - 1):
        out = interps[k].get_output_details(1)
        nxt = interps[k + 1].get_input_details(0)
        assert out["dtype"] == nxt["dtype"] == np.int8
        np.testing.assert_array_equal(out["shape"], nxt["shape"])
        assert out["quantization_parameters"]["scales"].tolist() == nxt["quantization_parameters"]["scales"].tolist()
        assert (out["quantization_parameters"]["zero_points"].tolist()
                == nxt["quantization_parameters"]["zero_points"].tolist())
    for k, interp in enumerate(interps):
        probs = interp.get_output_details(0)
        assert probs["dtype"] == np.int8 and probs["shape"].tolist() == [1, entry.num_classes]

    q = stage_list[0].input.quantization
    chain = StageChain([s.tflite for s in stage_list])
    for sample in x_float[:4]:
        x = quantize.quantize_input(sample[None], q.scale[0], q.zero_point[0])
        chained = chain.run_one(x)  # feeds stage k's int8 boundary output straight into stage k+1
        for a, b in zip(chained, _whole_outputs(whole, num_exits, x)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_stage_macs_add_up(converted, name):
    entry, whole, _ = converted(name)
    num_exits = len(entry.default_exits) + 1
    stage_list = stages.split(whole, num_exits)
    graph = ir.read(whole)
    assert sum(s.macs for s in stage_list) == sum(ops.macs(graph, op) for op in graph.ops)
    full = stages.full_model_macs(whole, num_exits)
    assert stage_list[0].macs < full <= sum(s.macs for s in stage_list)


def test_digits_cnn_macs_by_hand(converted):
    entry, whole, _ = converted("digits-cnn")
    s = stages.split(whole, 3)
    # conv1 8x8x8 (3x3x1) + exit0 conv 4x4x16 (3x3x8) + exit0 dense 16->10
    assert s[0].macs == 8 * 8 * 8 * 9 + 4 * 4 * 16 * 72 + 16 * 10
    assert stages.full_model_macs(whole, 3) == (
        8 * 8 * 8 * 9 + 4 * 4 * 24 * 72 + 4 * 4 * 24 * 216 + 4 * 4 * 48 * 216 + 4 * 4 * 48 * 432 + 48 * 10)


def test_stage_ops_are_int8_builtins(converted):
    _, whole, _ = converted("resnet8")
    s = stages.split(whole, 3)
    assert "ADD" in s[0].ops and "SOFTMAX" in s[0].ops
    for stage in s:
        stages.check_int8(fb.read(stage.tflite))


def test_float_model_is_refused():
    import tensorflow as tf

    entry = zoo.get("digits-cnn")
    model = training.build_eenn(entry, entry.default_exits, HeadSpec(), 10, batch_size=1)
    float_bytes = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(EennError, match=r"op 0 \(CONV_2D\) uses tensor .* of type FLOAT32"):
        stages.split(float_bytes, 3)


def test_wrong_exit_count_is_refused(converted):
    _, whole, _ = converted("digits-cnn")
    with pytest.raises(EennError, match="expected \\['output_0', 'output_1'\\]"):
        stages.split(whole, 2)


def test_a_cut_through_a_residual_block_is_refused():
    """An exit inside a residual block leaves two tensors crossing the cut."""
    entry = zoo.get("resnet8")
    entry = replace(entry, input_shape=(8, 8, 3))
    inside = ("stack1_a",)
    rng = np.random.default_rng(0)
    x = rng.random((8, 8, 8, 3), dtype=np.float32)
    model = training.untrained(entry, inside, HeadSpec("dense"), 10, 0, x)
    batch1 = training.build_eenn(entry, inside, HeadSpec("dense"), 10, batch_size=1)
    whole = quantize.to_int8_tflite(model, batch1, x)
    with pytest.raises(EennError, match="must cross exactly one tensor"):
        stages.split(whole, 2)


def test_a_1d_model_that_crops_and_upsamples_splits_after_a_conv1d_and_runs_as_under_tflm(tmp_path):
    """The converter hands a Conv1D's output on both as [1,1,N,C] and squeezed to [1,N,C] (one
    bytes, two tensors); the stage after the cut renames it again itself (no code), so the cut
    crosses one tensor. Cropping1D (STRIDED_SLICE), UpSampling1D (TILE, rewritten BROADCAST_TO)
    and Conv1DTranspose (TRANSPOSE_CONV) then run in generated C as TFLM runs them."""
    import keras
    from keras import layers

    x_in = keras.Input((32, 3))
    a = layers.Conv1D(8, 3, padding="same", activation="relu", name="conv_a")(x_in)
    b = layers.Conv1D(8, 3, padding="same", name="conv_b")(a)
    x = layers.UpSampling1D(2)(layers.Cropping1D((1, 3))(layers.Add()([a, b])))
    x = layers.Conv1DTranspose(4, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.GlobalAveragePooling1D()(x)
    keras.Model(x_in, layers.Dense(4, activation="softmax")(y)).save(tmp_path / "residual.keras")
    entry = augment.entry(tmp_path / "residual.keras")
    x = np.random.default_rng(0).random((16, 32, 3), dtype=np.float32)
    model = training.untrained(entry, ("conv_a",), HeadSpec("dense"), 4, 0, x)
    batch1 = training.build_eenn(entry, ("conv_a",), HeadSpec("dense"), 4, batch_size=1)
    whole = quantize.to_int8_tflite(model, batch1, x)
    stage_list = stages.split(whole, 2)
    assert {"STRIDED_SLICE", "BROADCAST_TO", "TRANSPOSE_CONV"} <= set(stage_list[1].ops)
    host = hostrun.HostModel(emit.generate([(f"s{s.index}.tflite", s.tflite) for s in stage_list], tmp_path / "src"),
                             tmp_path, "portable")
    q = stage_list[0].input.quantization
    chain = StageChain([s.tflite for s in stage_list])
    for sample in x[:4]:
        x8 = quantize.quantize_input(sample[None], q.scale[0], q.zero_point[0])
        expected = chain.run_one(x8)
        for a, b in zip(expected, _whole_outputs(whole, 2, x8)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(host.run_one(x8), expected):
            np.testing.assert_array_equal(a.reshape(-1), b.reshape(-1))


def test_not_a_flatbuffer():
    with pytest.raises(EennError, match="not a TFLite flatbuffer"):
        stages.split(b"hello world", 1)

"""Users' architectures end to end: MobileNetV2 (alpha 0.35), MobileNetV3Small (minimalistic
and not), MobileNet (alpha 0.25) from keras.applications, and a 1-D sensor CNN, each saved as
a .keras file, augmented with exits, quantized, generated, built for the nRF52 (for the
MobileNetV3s, which it refuses with the numbers, for a Cortex-M4 with more flash) and run
under QEMU: every record of the test split identical to the TFLM reference. Small inputs (32x32,
64 steps) and few samples keep them quick; the 1-D model is part of `make test`, the
keras.applications models (half a minute each, most of it TensorFlow's converter) of
`make test-models`."""

import numpy as np
import pytest

from eenn import pipeline, project
from eenn.device import conformance, qemu
from eenn.errors import EennError
from eenn.firmware import image
from eenn.hardware import boards
import realmodels

SIZE = 32  # the smallest input keras.applications builds its MobileNets for
LENGTH = 64
TOO_BIG_FOR_NRF52 = ("mobilenet_v3_small", "mobilenet_v3_small_minimalistic")  # over 1 MB of int8 weights
SAMPLES = 80  # a test split of 16


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == "sensor_1d" else [pytest.mark.models])
                                  for n in realmodels.NAMES])
def test_a_keras_applications_model_runs_on_the_device_as_on_the_host(keras, name, tmp_path):
    keras.utils.set_random_seed(0)
    model = realmodels.make(keras, name, LENGTH if name == "sensor_1d" else SIZE)
    arrays = realmodels.dataset(tuple(model.inputs[0].shape[1:]), SAMPLES)
    realmodels.normalize_batchnorm(model, arrays["x"])
    model.save(tmp_path / f"{name}.keras")
    np.savez(tmp_path / "data.npz", **arrays)
    p = project.override(project.Project(), name=name, **{
        "model.file": str(tmp_path / f"{name}.keras"), "data.source": str(tmp_path / "data.npz"),
        "training.epochs": 1, "calibration.method": "none", "decision.threshold": 0.9})  # the numerics are the point, not a risk
    build = pipeline.build(p, tmp_path / "generated", progress=False, log=lambda *_: None).build
    pipeline.generate(build)
    board = boards.get("nrf52")
    if name in TOO_BIG_FOR_NRF52:
        with pytest.raises(EennError, match=r"does not fit nrf52840: .* of 262,144, and [\d,]+ bytes of flash for "
                                            r"constants of 1,048,576"):
            image.build(build, board, emulated=True)
        board = boards.get("mps2-an386")  # the Cortex-M4 of the nRF52 with 4 MB of flash
    fw = image.build(build, board, emulated=True)
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, build)
    assert result.samples == len(build.records("test")) > 0
    assert result.differences == []

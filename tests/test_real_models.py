"""Users' architectures end to end (eenn.studies.applications): MobileNetV2 (alpha 0.35),
MobileNetV3Small (minimalistic and not), MobileNet (alpha 0.25) from keras.applications, and a
1-D sensor CNN, each saved as a .keras file, augmented with exits, quantized, generated, built
for the nRF52 (for the MobileNetV3s, which it refuses with the numbers, for a Cortex-M4 with
more flash) and run under QEMU: every record of the test split identical to the TFLM
reference. Small inputs (32x32, 64 steps) and few samples keep them quick; the 1-D model is
part of `make test`, the keras.applications models (half a minute each, most of it
TensorFlow's converter) of `make test-models`; `make bench` takes them at 96x96."""

import pytest

from eenn.device import conformance, qemu
from eenn.errors import EennError
from eenn.firmware import image
from eenn.hardware import boards
from eenn.studies import applications

SIZE = 32  # the smallest input keras.applications builds its MobileNets for
LENGTH = 64
SAMPLES = 80  # a test split of 16
TOO_BIG_FOR_NRF52 = ("mobilenet_v3_small", "mobilenet_v3_small_minimalistic")  # over 1 MB of int8 weights


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == "sensor_1d" else [pytest.mark.models])
                                  for n in applications.NAMES])
def test_a_keras_applications_model_runs_on_the_device_as_on_the_host(name, tmp_path):
    build = applications.build(name, LENGTH if name == "sensor_1d" else SIZE, SAMPLES, tmp_path / "models",
                               tmp_path / "generated")
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

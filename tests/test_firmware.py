"""Boards as data, firmware builds with budgets, and the firmware under QEMU: every record
identical to the host simulator, bad frames answered with errors, QEMU never left running."""

import shutil
import struct
import subprocess
import zlib
from dataclasses import replace

import numpy as np
import pytest
from cobs import cobs

from eenn import protocol
from eenn.codegen import kernels
from eenn.decision import mechanisms
from eenn.device import conformance, link, qemu
from eenn.errors import EennError
from eenn.firmware import image
from eenn.hardware import boards
from decision_specs import SPECS

BOARDS = [b.name for b in boards.all_boards()]
SAMPLES = 300


@pytest.fixture(scope="module")
def an386(generated_build):
    """The default model's firmware on QEMU's mps2-an386, for protocol tests."""
    board = boards.get("mps2-an386")
    fw = image.build(generated_build, board, emulated=True)
    with qemu.Emulator(fw.elf, board.emulation.machine, timeout=5) as emulator:
        emulator.link.connect()
        yield emulator


def test_boards_load_and_aliases_resolve():
    assert {"nrf52840", "stm32f405", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547", "microbit"} <= set(BOARDS)
    assert boards.get("nrf52").name == "nrf52840"
    assert all(b.emulation is not None for b in boards.all_boards())


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(EennError, match=r"unknown board 'nrf99'; known boards: .*nrf52840 \(nrf52\)"):
        boards.get("nrf99")


def test_board_file_errors_name_file_and_key(tmp_path):
    good = (boards.BOARDS_DIR / "mps2-an386.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace("ram_bytes", "ram_size"))
    with pytest.raises(EennError, match=r"bad.toml \[memory\]: unknown key 'ram_size'"):
        boards.load(bad)
    bad.write_text(good.replace('driver = "cmsdk-uart"', 'driver = "pl011"'))
    with pytest.raises(EennError, match="UART driver must be one of"):
        boards.load(bad)


def test_the_kernel_path_is_board_data():
    assert {b.name: b.kernels for b in boards.all_boards()} == {
        "microbit": "armv6m", "mps2-an385-m0": "armv6m", "mps2-an386": "dsp", "mps2-an500": "dsp",
        "mps2-an505": "dsp", "mps3-an547": "mve", "nrf52840": "dsp", "stm32f405": "dsp"}
    assert kernels.chosen("dsp")["eenn_conv2d"] == "conv2d_dsp.c" and kernels.chosen("dsp")["eenn_add"] == "add.c"
    mve = kernels.chosen("mve")
    assert (mve["eenn_conv2d"], mve["eenn_depthwise_conv2d"], mve["eenn_add"]) == (
        "conv2d_mve.c", "depthwise_conv2d_mve.c", "add.c")
    armv6m = kernels.chosen("armv6m")
    assert (armv6m["eenn_fully_connected"], armv6m["eenn_depthwise_conv2d"], armv6m["eenn_add"]) == (
        "fully_connected_armv6m.c", "depthwise_conv2d_armv6m.c", "add.c")
    assert set(kernels.chosen("portable").values()) <= {p.name for p in kernels.KERNELS.glob("portable/*.c")}


def test_a_kernel_without_a_helium_file_takes_its_dsp_one(tmp_path, monkeypatch):
    shutil.copytree(kernels.KERNELS, tmp_path / "kernels")
    (tmp_path / "kernels" / "mve" / "depthwise_conv2d_mve.c").unlink()
    monkeypatch.setattr(kernels, "KERNELS", tmp_path / "kernels")
    assert kernels.chosen("mve")["eenn_depthwise_conv2d"] == "depthwise_conv2d_dsp.c"


def test_dsp_kernels_on_a_core_without_dsp_are_refused(tmp_path):
    m0 = (boards.BOARDS_DIR / "microbit.toml").read_text()
    bad = tmp_path / "m0-dsp.toml"
    bad.write_text(m0.replace('cpu = "cortex-m0"', 'cpu = "cortex-m0"\nkernels = "dsp"'))
    with pytest.raises(EennError, match='m0-dsp.toml: kernels = "dsp" needs a core with the DSP extension'):
        boards.load(bad)
    source = kernels.KERNELS / "dsp" / "conv2d_dsp.c"  # and the compiler stops, whatever the board file says
    done = subprocess.run([image.COMPILER, *boards.get("microbit").cflags, "-I", kernels.KERNELS, "-c", source, "-o",
                           tmp_path / "x.o"], capture_output=True, text=True)
    assert done.returncode != 0 and "a DSP kernel compiled for a core without the DSP extension" in done.stderr
    m4 = (boards.BOARDS_DIR / "mps2-an386.toml").read_text()
    bad = tmp_path / "m4-mve.toml"
    bad.write_text(m4.replace('cpu = "cortex-m4"', 'cpu = "cortex-m4"\nkernels = "mve"'))
    with pytest.raises(EennError, match='m4-mve.toml: kernels = "mve" needs a core with Helium .+ takes kernels = "dsp"'):
        boards.load(bad)


def test_a_dsp_core_may_take_the_portable_kernels_and_answers_the_same(generated_build, tmp_path):
    board = replace(boards.get("mps2-an386"), name="an386-portable", kernels="portable")
    fw = image.build(generated_build, board, emulated=True)
    files = fw.size["kernels"]["files"]
    assert fw.size["kernels"]["path"] == "portable" and files and not any(f.endswith("_dsp.c") for f in files.values())
    assert "eenn_conv2d conv2d.c" in (fw.directory / image.SIZE_TEXT).read_text()
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, generated_build, SAMPLES, board=board)
    assert result.differences == [] and result.samples == SAMPLES


@pytest.mark.parametrize("name", BOARDS)
def test_emulated_board_answers_exactly_as_the_host_simulator(generated_build, name):
    manifest, records = generated_build.manifest, generated_build.records("test")
    board = boards.get(name)
    fw = image.build(generated_build, board, emulated=True)
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, generated_build, SAMPLES)
    assert result.samples == SAMPLES
    assert result.differences == []
    spec = manifest.decision.spec
    expected = np.bincount(mechanisms.simulate(spec, records.probs[:SAMPLES])[0], minlength=len(manifest.stages))
    assert result.exit_histogram == expected.tolist()
    assert result.mean_cost > 0 and result.cost_unit == "systick ticks"
    assert emulator.process.poll() is not None  # QEMU is gone with the emulator


def test_calibrated_thresholds_run_on_the_device_for_every_test_sample(generated_build):
    """The default build's risk-controlled thresholds are in the firmware, and under QEMU every
    test sample's record, exit and class equal the host's, so the calibration's figures hold."""
    manifest, records = generated_build.manifest, generated_build.records("test")
    decision = manifest.decision
    board = boards.get("mps2-an386")
    fw = image.build(generated_build, board, emulated=True)
    thresholds = ", ".join(map(str, decision.spec.thresholds))
    assert f"#define EENN_DECISION_THRESHOLDS {{ {thresholds}, 0 }}" in (fw.directory / "decision_config.h").read_text()
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, generated_build)
    assert result.samples == len(records) and result.differences == []
    assert result.exit_histogram == decision.calibration["test"]["exit_histogram"]
    assert result.accuracy == decision.calibration["test"]["accuracy"]


@pytest.mark.parametrize("mechanism", list(SPECS))
def test_every_decision_mechanism_answers_as_the_host_under_qemu(generated_build, mechanism):
    manifest, records = generated_build.manifest, generated_build.records("test")
    spec = SPECS[mechanism]
    board = boards.get("mps2-an386")
    fw = image.build(generated_build, board, emulated=True, decision=spec)
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, generated_build, SAMPLES, decision=spec)
    assert result.differences == []
    assert result.exit_histogram == np.bincount(mechanisms.simulate(spec, records.probs[:SAMPLES])[0],
                                                minlength=len(manifest.stages)).tolist()


@pytest.mark.parametrize("name", BOARDS)
def test_real_board_firmware_builds_within_budget(generated_build, name):
    board = boards.get(name)
    fw = image.build(generated_build, board)
    for ext in ("elf", "hex", "bin"):
        assert (fw.directory / f"firmware.{ext}").stat().st_size > 0
    size = fw.size
    assert size["flash_budget"] == board.memory.flash_bytes and size["ram_budget"] == board.memory.ram_bytes
    assert 0 < size["flash_bytes"] < size["flash_budget"] and 0 < size["ram_bytes"] < size["ram_budget"]
    assert 0 < size["stack"]["worst"] <= image.STACK_BYTES
    text = (fw.directory / image.SIZE_TEXT).read_text()
    conv = kernels.chosen(board.kernels)["eenn_conv2d"]
    assert "worst stack" in text and f"kernels ({board.kernels} path): eenn_conv2d {conv}" in text


def test_an_unchanged_firmware_is_not_rebuilt(generated_build):
    board = boards.get("nrf52")
    first = image.build(generated_build, board)
    again = image.build(generated_build, board)
    assert not again.rebuilt and again.build_id == first.build_id


def test_a_model_over_the_ram_budget_is_refused_before_compiling(generated_build):
    board = boards.get("microbit")
    tiny = replace(board, name="tiny", memory=replace(board.memory, ram_bytes=2048))
    needed = generated_build.code().arena_bytes + image.STACK_BYTES
    with pytest.raises(EennError, match=rf"does not fit tiny: it needs at least {needed:,} bytes of RAM .* of 2,048"):
        image.build(generated_build, tiny)
    assert not image.output_directory(generated_build.directory, tiny, False).exists()


def test_a_firmware_over_the_ram_budget_is_refused_by_the_linker(generated_build):
    board = boards.get("microbit")
    code_arena = generated_build.code().arena_bytes
    snug = replace(board, name="snug", memory=replace(board.memory, ram_bytes=code_arena + image.STACK_BYTES))
    with pytest.raises(EennError, match=r"linking for snug: the firmware overflows RAM by [\d,]+ bytes"):
        image.build(generated_build, snug)


def _error(emulator, data: bytes) -> int:
    emulator.link.send_raw(data)
    kind, body = emulator.link.receive()
    assert kind == protocol.ERROR
    return body[0]


def _framed(body: bytes) -> bytes:
    return cobs.encode(body) + b"\0"


@pytest.mark.parametrize("data, code", [
    (_framed(b"S" + b"\1" * 66 + b"\0\0\0\0"), 2),  # CRC
    (link.encode(b"S", b"\0\0" + b"\1" * 10), 3),  # payload of the wrong size
    (link.encode(b"X"), 4),  # unknown command
    (b"\5\1\0", 1),  # COBS block longer than the frame
    (b"\2\7\0", 3),  # shorter than type and CRC
    (b"\7" * 500 + b"\0", 3),  # longer than any frame
], ids=["crc", "length", "command", "framing", "short", "oversize"])
def test_bad_frames_get_error_records_and_service_goes_on(generated_build, an386, data, code):
    records = generated_build.records("test")
    assert _error(an386, data) == code
    record = an386.link.infer(7, records.inputs[7], records.probs.shape[-1])
    assert record.sequence == 7 and record.probs.dtype == np.int8


def _drain_errors(emulator) -> int:
    """Read answers until none comes for half a second; all must be error records."""
    port = emulator.link.port
    timeout, port.timeout = port.timeout, 0.5
    errors = 0
    try:
        while True:
            kind, _ = emulator.link.receive()
            assert kind == protocol.ERROR
            errors += 1
    except link.LinkTimeout:
        return errors
    finally:
        port.timeout = timeout


def test_truncated_frames_and_garbage_are_survived(generated_build, an386):
    records = generated_build.records("test")
    good = link.encode(b"S", struct.pack("<H", 3) + records.inputs[3].tobytes())
    an386.link.send_raw(good[: len(good) // 2] + b"\0")  # cut short, then the delimiter
    assert _drain_errors(an386) == 1
    garbage = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes() + b"\0"
    an386.link.send_raw(garbage)
    assert _drain_errors(an386) >= 1  # one per zero-delimited piece
    record = an386.link.infer(3, records.inputs[3], records.probs.shape[-1])
    assert record.sequence == 3 and np.array_equal(record.probs, records.probs[3, record.exit])
    assert an386.link.info().board.startswith("mps2-an386")


def test_a_dead_emulator_fails_the_run_fast_with_qemu_status(generated_build):
    records = generated_build.records("test")
    board = boards.get("mps2-an386")
    fw = image.build(generated_build, board, emulated=True)
    with pytest.raises(EennError, match=r"link lost.*QEMU exited with status -9"):
        with qemu.Emulator(fw.elf, board.emulation.machine, timeout=30) as emulator:
            emulator.link.connect()
            emulator.process.kill()  # as if the firmware had crashed QEMU
            emulator.process.wait()
            emulator.link.infer(0, records.inputs[0], records.probs.shape[-1])


def test_missing_qemu_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(qemu, "QEMU", "qemu-system-nonexistent")
    with pytest.raises(EennError, match="install the Debian package qemu-system-arm"):
        qemu.Emulator(tmp_path / "x.elf", "mps2-an386")


def test_frames_round_trip_and_corruption_is_caught():
    frame = link.encode(b"r", bytes(i % 256 for i in range(300)))
    assert frame.count(0) == 1 and frame.endswith(b"\0")
    assert link.decode(frame[:-1]) == (b"r", bytes(i % 256 for i in range(300)))
    body = b"r" + b"\0abc"
    corrupt = cobs.encode(body + struct.pack("<I", zlib.crc32(body) ^ 1))
    with pytest.raises(link.LinkError, match="fails its CRC"):
        link.decode(corrupt)

"""`eenn validate` against firmware on a real tty device (QEMU's UART on a pseudo-terminal),
its JSON-lines log, and `eenn report` reading that log back to the same figures."""

import json
from dataclasses import replace

import pytest

from eenn import cli
from eenn.device import conformance, qemu, runlog
from eenn.errors import EennError
from eenn.firmware import image
from eenn.hardware import boards

SAMPLES = 300


@pytest.fixture(scope="module")
def nrf52_qemu(generated_build):
    """The nRF52840's QEMU image running, its UART on a pseudo-terminal nobody has opened."""
    board = boards.get("nrf52")
    fw = image.build(generated_build, board, emulated=True)
    with qemu.Emulator(fw.elf, board.emulation.machine, serial="pty", connect=False) as emulator:
        assert emulator.url.startswith("/dev/pts/")
        yield emulator


def test_validate_on_a_pty_has_no_mismatch_and_its_log_reads_back(generated_build, nrf52_qemu, tmp_path, capsys):
    log = tmp_path / "validate.jsonl"
    build = generated_build.directory
    status = cli.main(["validate", "--board", "nrf52", "--port", nrf52_qemu.url, "--name", build.name,
                       "--out", str(build.parent), "--samples", str(SAMPLES), "--log", str(log), "--quiet"])
    captured = capsys.readouterr()
    out = captured.out
    assert status == cli.EXIT_OK, captured.err + out
    assert f"{SAMPLES} samples, records all identical to the host simulator" in out
    assert "instructions per stage, mean over the samples that ran it" in out

    entries = runlog.read(log)
    assert [e["kind"] for e in entries] == ["info"] + ["record"] * SAMPLES
    assert all(e["match"] is True and e["label"] is not None for e in entries[1:])
    assert [e["sequence"] for e in entries[1:]] == list(range(SAMPLES))

    status = cli.main(["report", "--log", str(log)])
    report = capsys.readouterr().out
    assert status == cli.EXIT_OK
    assert out.splitlines()[:4] == report.splitlines()[:4]  # the same figures from the log
    assert (tmp_path / "validate.png").stat().st_size > 0


def test_a_device_running_another_board_s_firmware_is_refused(generated_build, nrf52_qemu):
    from eenn.device.link import Link

    m = generated_build.manifest
    retrained = replace(generated_build, manifest=replace(m, stages=(replace(m.stages[0], sha256="0" * 64),
                                                                     *m.stages[1:])))

    device = Link(nrf52_qemu.url, timeout=5)
    try:
        with pytest.raises(EennError, match="runs firmware for nrf52840@mps2-an386, not stm32f405"):
            conformance.run(device, generated_build, 5, board=boards.get("stm32f405"))
        with pytest.raises(EennError, match="runs another model"):
            conformance.run(device, retrained, 5)
    finally:
        device.close()


def test_a_missing_port_is_one_line(generated_build, capsys):
    status = cli.main(["validate", "--board", "nrf52", "--port", "/dev/does-not-exist", "--name", generated_build.name,
                       "--out", str(generated_build.directory.parent)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_ERROR and err.count("\n") == 1 and "/dev/does-not-exist: no such serial port" in err


def _record(sequence, exit_, cls, cost, label=None, match=None, expected=None):
    entry = {"kind": "record", "time": 0, "sequence": sequence, "exit": exit_, "class": cls, "probs": [0, 1],
             "cost": cost, "cost_unit": "cycles", "label": label, "match": match}
    if expected is not None:
        entry["expected"] = expected
    return entry


INFO = {"kind": "info", "time": 0, "board": "nrf52840", "build_id": "b1", "model_digest": "ab" * 32, "stages": 3,
        "classes": 2, "cost_unit": "cycles"}


def test_a_summary_counts_exits_stages_and_mismatches():
    wrong = {"exit": 2, "class": 0, "probs": [1, 0]}
    entries = [INFO, _record(0, 0, 1, [100], 1, True), _record(1, 2, 0, [100, 200, 300], 1, False, wrong),
               {"kind": "text", "time": 0, "text": "hello"}]
    result = conformance.summarize(entries)
    assert result.samples == 2 and result.exit_histogram == [1, 0, 1]
    assert result.stage_costs == [100.0, 200.0, 300.0] and result.mean_cost == 350.0
    assert result.accuracy == 0.5 and result.compared == 2 and not result.emulated
    assert len(result.differences) == 1 and result.differences[0].startswith("sample 1: device exit 2 class 0")
    estimated = conformance.estimate(boards.get("nrf52"), result)  # DWT counts cycles at 64 MHz
    assert estimated["cycles"] == 350.0 and estimated["latency_s"] == pytest.approx(350 / 64e6)
    unlabelled = conformance.summarize([INFO, _record(0, 0, 1, [100])])
    assert unlabelled.accuracy is None and unlabelled.compared == 0


def test_logs_without_info_mixing_models_or_with_bad_lines_are_refused(tmp_path):
    with pytest.raises(EennError, match="no info line"):
        conformance.summarize([_record(0, 0, 1, [100])])
    with pytest.raises(EennError, match="runs of 2 models"):
        conformance.summarize([INFO, {**INFO, "model_digest": "cd" * 32}])
    log = tmp_path / "bad.jsonl"
    log.write_text(json.dumps(INFO) + "\n{not json\n")
    with pytest.raises(EennError, match=r"bad.jsonl:2: not a log line"):
        runlog.read(log)
    log.write_text(json.dumps(INFO) + '\n{"kind": "rec')  # cut short by a crash: the last line is left out
    assert runlog.read(log) == [INFO]

"""A split EENN under QEMU: the device runs stage 0 and offloads the rest to `eenn edge` over
its serial link. Every sample ends as in the unsplit host simulation; with the edge gone the
device falls back (or reports no result) and never a wrong class; stale answers are refused."""

import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import serial
from elftools.elf.elffile import ELFFile

from eenn import cli, protocol
from eenn.device import link, qemu, runlog
from eenn.device.conformance import Expectation
from eenn.device.edge import EdgeRuntime
from eenn.device.link import LinkError
from eenn.errors import EennError
from eenn.firmware import image
from eenn.hardware import boards, links
from eenn.project import DeploymentConfig
from eenn.studies import partition

TIMEOUT_MS = 10.0  # of virtual time: QEMU counts one nanosecond per instruction
WAIT_SECONDS = 120
REPLAY = 120  # samples per pass; the edge answers once a pass has begun (and said which model runs)


def _image(build, fallback=True):
    board = boards.get("nrf52")
    deployment = DeploymentConfig(1, fallback=fallback, edge_timeout_ms=TIMEOUT_MS)
    return image.build(build, board, emulated=True, replay=REPLAY, deployment=deployment), board


def _collect(build, url, log, command="edge", records=None, until=None, stop=signal.SIGINT):
    """`eenn edge` (or `monitor`) on `url` into `log`, until `records` records or `until(entries)`,
    then stopped with `stop` (Ctrl-C, or SIGKILL: without a goodbye)."""
    args = [sys.executable, "-m", "eenn.cli", command, "--port", url, "--name", build.name, "--out",
            str(build.directory.parent), "--log", str(log)] + (["--records", str(records)] if records else [])
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if until is not None:
            deadline = time.monotonic() + WAIT_SECONDS
            while not (log.exists() and until(runlog.read(log))):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, f"timed out: {runlog.read(log)[-3:] if log.exists() else 'no log'}"
                time.sleep(0.1)
            process.send_signal(stop)
        out, err = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == (-signal.SIGKILL if stop == signal.SIGKILL else 0), err
    return [e for e in runlog.read(log) if e["kind"] == "record"]


def _open(url):
    """The port of an emulator that may not listen yet."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return serial.serial_for_url(url, timeout=0.2)
        except serial.SerialException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _routes(records):
    return {r["route"] for r in records}


def test_a_split_run_ends_every_sample_as_the_unsplit_network(generated_build, tmp_path):
    fw, board = _image(generated_build)
    with qemu.Emulator(fw.elf, board.emulation.machine, connect=False) as emulator:
        records = _collect(generated_build, emulator.url, tmp_path / "edge.jsonl", records=4 * REPLAY)
    checked = [r for r in records if r["match"] is not None]
    assert len(checked) >= 300
    assert all(r["match"] for r in checked)
    offloaded = [r for r in checked if r["route"] == "edge"]
    assert len(offloaded) >= 20 and all(r["exit"] >= 1 and len(r["cost"]) == 1 for r in offloaded)
    assert all(r["offload_cost"] > 0 for r in offloaded)


def test_with_the_edge_killed_the_device_falls_back_and_resumes_offloading(generated_build, tmp_path):
    fw, board = _image(generated_build)
    edge_ran = lambda entries: sum(e.get("route") == "edge" for e in entries) >= 20
    with qemu.Emulator(fw.elf, board.emulation.machine, connect=False) as emulator:
        first = _collect(generated_build, emulator.url, tmp_path / "first.jsonl", until=edge_ran, stop=signal.SIGKILL)
        fell_back = lambda entries: sum(e.get("route") == "fallback" and e["match"] is True for e in entries) >= 20
        alone = _collect(generated_build, emulator.url, tmp_path / "alone.jsonl", command="monitor", until=fell_back)
        again = _collect(generated_build, emulator.url, tmp_path / "again.jsonl", until=edge_ran)
    assert "edge" in _routes(first) and "edge" in _routes(again)
    assert _routes(alone) <= {"device", "fallback"}
    for records in (first, alone, again):
        assert all(r["match"] is not False for r in records)
        assert sum(r["match"] is True for r in records) > 0


def test_without_fallback_an_unanswered_sample_has_no_result_and_no_class(generated_build, tmp_path):
    fw, board = _image(generated_build, fallback=False)
    no_result = lambda entries: sum(e.get("route") == "no result" for e in entries) >= 10
    with qemu.Emulator(fw.elf, board.emulation.machine, connect=False) as emulator:
        records = _collect(generated_build, emulator.url, tmp_path / "alone.jsonl", command="monitor", until=no_result)
    assert _routes(records) <= {"device", "no result"}
    for r in records:
        if r["route"] == "no result":
            assert r["exit"] is None and r["class"] is None and r["match"] is None and len(r["cost"]) == 1
        else:
            assert r["match"] is not False
    with open(fw.elf, "rb") as f:  # the stages the edge runs are left out of the image
        symbols = {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    assert "eenn_stage0" in symbols and not {"eenn_stage1", "eenn_stage2"} & symbols


def test_duplicate_and_out_of_order_answers_are_refused(generated_build):
    """A faulty edge answers every offload first with a stale sequence number, then one from the
    future, each with wrong probabilities, then rightly: only the right answer may count."""
    fw, board = _image(generated_build)
    records = generated_build.records("test")
    runtime = EdgeRuntime(generated_build)
    expectation = Expectation.of(generated_build.manifest.decision.spec, records, runtime.model_digest)
    wrong = np.full((2, records.probs.shape[-1]), -128, np.int8)
    wrong[:, 0] = 127  # class 0, sure of it
    checked = offloads = 0
    with qemu.Emulator(fw.elf, board.emulation.machine, connect=False) as emulator:
        port = _open(emulator.url)
        reader, seen_info, deadline = link.FrameReader(), False, time.monotonic() + WAIT_SECONDS
        try:
            while offloads < 15 and time.monotonic() < deadline:
                for kind, body in reader.feed(port.read(max(1, port.in_waiting))):
                    if kind == protocol.INFO:
                        seen_info = True
                    elif kind == protocol.OFFLOAD and seen_info:
                        sequence = int.from_bytes(body[:2], "little")
                        port.write(link.edge_answer(sequence - 1, 1, wrong) + link.edge_answer(sequence + 1, 1, wrong)
                                   + runtime.answer(body))
                        offloads += 1
                    elif kind == protocol.RECORD and seen_info:
                        record = link.parse_record(body)
                        label, expected = expectation.for_sample(record.sequence)
                        assert record.route in ("device", "edge")
                        assert (record.exit, record.predicted, record.probs.tolist()) == (
                            expected["exit"], expected["class"], expected["probs"])
                        checked += 1
        finally:
            port.close()
    assert offloads == 15 and checked >= 15


def test_a_bad_split_and_a_bad_offload_are_refused(generated_build):
    with pytest.raises(EennError, match="deployment.split 3: the stages are 0 to 2"):
        image.build(generated_build, boards.get("nrf52"), emulated=True, deployment=DeploymentConfig(3))
    runtime = EdgeRuntime(generated_build)
    with pytest.raises(LinkError, match="an offload for stage 0"):
        runtime.answer(b"\x01\x00\x00\x00\x00")
    with pytest.raises(LinkError, match="an offload of 3 bytes for stage 1"):
        runtime.answer(b"\x01\x00\x00\x00\x01abc")


def test_the_split_comes_from_the_project_unless_the_flags_say_otherwise(generated_build):
    m, board = generated_build.manifest, boards.get("nrf52")

    def with_project(deployment):
        return replace(generated_build, manifest=replace(m, project=replace(m.project, deployment=deployment)))

    deployment = DeploymentConfig(split=1, fallback=False, edge_timeout_ms=50.0)
    split = with_project(deployment)
    flags = lambda *extra: cli._parser().parse_args(["firmware", "--board", "nrf52", *extra])
    assert cli._deployment(flags(), split, board) == deployment
    assert cli._deployment(flags("--split", "2", "--edge-timeout-ms", "20"), split, board) == \
        DeploymentConfig(2, False, 20.0)
    assert cli._deployment(flags(), generated_build, board) == DeploymentConfig()  # the default project: no split
    with pytest.raises(EennError, match="deployment.fallback = false needs a split"):
        cli._deployment(flags("--no-fallback"), generated_build, board)
    with pytest.raises(EennError, match="give --split or --link"):
        cli._deployment(flags("--split", "1", "--link", "ble-1m"), generated_build, board)
    # a link has the split chosen: the project's, or the flag's in place of the project's split
    for name in links.names():
        chosen = partition.recommend(partition.options(generated_build, board, links.load(name))).split
        linked = with_project(DeploymentConfig(link=name, edge_timeout_ms=50.0))
        assert cli._deployment(flags(), linked, board) == DeploymentConfig(chosen, True, 50.0)
        assert cli._deployment(flags("--link", name), split, board) == DeploymentConfig(chosen, chosen is None, 50.0)
        assert cli._deployment(flags("--split", "2"), linked, board) == DeploymentConfig(2, True, 50.0)

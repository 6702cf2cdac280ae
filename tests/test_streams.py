"""Streams of scenes, recorded streams, and the accuracy/MACs trade-off of every decision
mechanism on them; the temporal mechanisms under QEMU on a long stream."""

import csv

import numpy as np
import pytest

from eenn.decision import mechanisms, streams
from eenn.device import conformance, qemu
from eenn.errors import EennError
from eenn.firmware import image
from eenn.hardware import boards
from decision_specs import SPECS

STEPS = 1000


@pytest.fixture(scope="module")
def stream_records(default_build):
    """A digits stream of STEPS scenes-steps from the test split, with its TFLM records."""
    test = default_build.records("test")
    stream = streams.build(test.inputs, test.labels, STEPS, seed=1)
    return stream, default_build.stage_chain().run(stream.inputs, stream.labels)


def test_scenes_are_runs_of_one_class_of_bounded_length():
    labels = np.repeat(np.arange(3), 10)
    inputs = np.arange(30, dtype=np.int8)[:, None]
    s = streams.build(inputs, labels, 200, seed=3, scene_min=4, scene_max=9)
    assert len(s) == 200 and s.starts.tolist() == [True] + [False] * 199
    assert np.array_equal(labels[s.inputs[:, 0]], s.labels)  # each step is a sample of its scene's class
    changes = np.flatnonzero(np.diff(s.labels)) + 1
    runs = np.diff(np.concatenate([[0], changes, [200]]))
    assert runs[:-1].min() >= 4 and runs.max() <= 9
    again = streams.build(inputs, labels, 200, seed=3, scene_min=4, scene_max=9)
    assert np.array_equal(again.inputs, s.inputs)  # seeded


def test_noise_stays_int8():
    s = streams.build(np.full((4, 2), 127, np.int8), np.array([0, 1, 0, 1]), 50, seed=0, noise=20)
    assert s.inputs.dtype == np.int8 and s.inputs.max() == 127 and s.inputs.min() >= 107


def test_recorded_streams_load_from_npz_and_csv(tmp_path):
    x = np.arange(12, dtype=np.int8).reshape(6, 2)
    y = np.array([0, 0, 1, 1, 1, 0])
    np.savez(tmp_path / "s.npz", x=x, y=y, stream=np.array([7, 7, 7, 8, 8, 8]))
    s = streams.load(tmp_path / "s.npz")
    assert s.starts.tolist() == [True, False, False, True, False, False]
    with open(tmp_path / "s.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stream", "order", "label", "a", "b"])
        for i in reversed(range(6)):  # rows out of order: sorted by stream, then order
            w.writerow([i // 3, i % 3, y[i], *x[i]])
    c = streams.load(tmp_path / "s.csv")
    assert np.array_equal(c.inputs, x) and np.array_equal(c.labels, y) and c.starts.tolist() == s.starts.tolist()
    (tmp_path / "bad.csv").write_text("stream,label,a\n0,1,2\n")
    with pytest.raises(EennError, match="missing column 'order'"):
        streams.load(tmp_path / "bad.csv")


def test_a_temporal_mechanism_saves_60_percent_of_the_full_network_on_a_stream(default_build, stream_records):
    """A bound for whatever model this machine trains: five models of the default project trained
    with oneDNN on and off, AVX-512 and AVX2, 1 and 2 cores needed 11.4-12.3% of the full network."""
    from eenn import project
    from eenn.decision import tradeoff

    stream, records = stream_records
    manifest = default_build.manifest
    full = manifest.full_model_macs
    rows = tradeoff.sweep(records, project.DecisionConfig(), manifest.exit_quantizations[:-1],
                          manifest.cumulative_macs, full, stream.starts)
    assert {r["mechanism"] for r in rows} == set(mechanisms.MECHANISMS)
    full_accuracy = float(np.mean(records.predictions[:, -1] == records.labels))
    good = [r for r in rows if r["mechanism"] in mechanisms.TEMPORAL
            and r["mean_macs"] <= 0.4 * full and r["accuracy"] >= full_accuracy - 0.02]
    assert good, tradeoff.table(rows)


@pytest.mark.parametrize("mechanism", list(SPECS))
def test_every_mechanism_answers_as_the_host_on_a_long_stream_under_qemu(generated_build, stream_records, mechanism):
    spec = SPECS[mechanism]
    _, records = stream_records
    board = boards.get("mps2-an386")
    fw = image.build(generated_build, board, emulated=True, decision=spec)
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        result = conformance.run(emulator.link, generated_build, decision=spec, records=records)
    assert result.samples == STEPS and result.differences == []
    expected = mechanisms.simulate(spec, records.probs, np.array([True] + [False] * (STEPS - 1)))[0]
    assert result.exit_histogram == np.bincount(expected, minlength=len(generated_build.manifest.stages)).tolist()


def test_cli_tradeoff_writes_a_table_and_a_plot(default_build):
    import subprocess
    import sys

    out = default_build.directory.parent
    done = subprocess.run([sys.executable, "-m", "eenn.cli", "tradeoff", "--out", str(out), "--stream", "--steps", "300"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "temporal-patience" in done.stdout
    for ext in ("txt", "png"):
        assert (default_build.directory / f"tradeoff_stream.{ext}").stat().st_size > 0

"""The exit search: trials built like projects, a Pareto front under the board's budget, the
choice as a project file that rebuilds the same EENN, resuming, and workers sharing a study
through a real PostgreSQL server."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from eenn import pipeline, project
from eenn.device.qemu import free_port
from eenn.errors import EennError
from eenn.studies import search

BASE = project.override(project.Project(), name="small", **{"training.epochs": 10, "data.source": "digits"})
CONFIG = search.SearchConfig(trials=3, epochs=3)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    study = search.run(BASE, CONFIG, out, progress=False)
    return out, study


def _states(study) -> dict:
    counts = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def test_a_search_finishes_its_trials_and_keeps_a_feasible_front(searched):
    out, study = searched
    assert search._finished(study) == CONFIG.trials
    front = search.feasible_front(study)
    assert front and all(t.constraints["ram"] <= 0 and t.constraints["flash"] <= 0 for t in front)
    for t in front:
        s = t.user_attrs["summary"]
        assert 0 < t.values[0] <= 1 and t.values[1] > 0 and Path(s["directory"]).is_dir()
        assert len(s["exits"]) == len(s["heads"]) == len(s["widths"]) >= 1
        assert t.values[1] == s["calib"]["mean_macs"]  # the default objective
        assert 0 < s["calib"]["cost"]["cycles"] and 0 < s["calib"]["cost"]["energy_j"]
    assert (out / "search" / "small" / search.BACKBONE).exists()
    text = search.table(study)
    assert "exits (head, width)" in text and "*" in text


def test_the_choice_is_a_project_that_rebuilds_the_trial(searched, tmp_path):
    out, study = searched
    chosen = search.choose(search.feasible_front(study), 0.01)
    path = tmp_path / "project.toml"
    search.write_choice(chosen, path)
    proj = project.load(path)
    assert proj.name == "small-search" and proj.model.file and proj.training.mode == "candidates"
    rebuilt = pipeline.build(proj, out, progress=False, log=lambda *_: None).build.manifest
    summary = chosen.user_attrs["summary"]
    assert list(rebuilt.decision.spec.thresholds) == summary["thresholds"]
    assert rebuilt.metrics.policy == {k: v for k, v in summary["test"].items() if k != "cost"}


def test_a_search_resumes_where_it_stopped(searched):
    out, study = searched
    before = {t.number for t in study.get_trials(deepcopy=False)}
    more = search.run(BASE, search.SearchConfig(trials=CONFIG.trials + 1, epochs=CONFIG.epochs), out, progress=False)
    after = {t.number for t in more.get_trials(deepcopy=False)}
    assert before < after and len(after - before) >= 1 and search._finished(more) == CONFIG.trials + 1


def test_an_interrupted_search_resumes(searched, tmp_path):
    """A search killed in the middle of its trials (as by a power cut) picks up from its storage."""
    out, _ = searched
    project_file = tmp_path / "base.toml"
    project_file.write_text('name = "killed"\n[data]\nsource = "digits"\n[training]\nepochs = 10\n')
    shutil.copy(out / "search" / "small" / search.BACKBONE, tmp_path / "backbone.keras")
    args = [sys.executable, "-m", "eenn.cli", "search", "--project", str(project_file), "--model-file",
            str(tmp_path / "backbone.keras"), "--trials", "20", "--epochs", "2", "--out", str(tmp_path), "--quiet"]
    worker = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    storage = search.storage_url(None, tmp_path / "search" / "killed")
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            time.sleep(2)
            assert worker.poll() is None, worker.stderr.read()[-500:]
            if Path(storage.removeprefix("sqlite:///")).exists() and \
                    search._finished(search.open_study("killed", storage, 0)) >= 1:
                break
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stderr.close()
    study = search.open_study("killed", storage, 0)
    done = search._finished(study)
    assert 1 <= done < 20
    proj = project.load(project_file)
    proj = project.override(proj, **{"model.file": str(tmp_path / "backbone.keras")})
    resumed = search.run(proj, search.SearchConfig(trials=done + 1, epochs=2), tmp_path, progress=False)
    assert search._finished(resumed) == done + 1


def test_a_worker_with_another_backbone_is_refused(searched, tmp_path):
    out, _ = searched
    import keras

    other = tmp_path / "other.keras"
    model = keras.models.load_model(out / "search" / "small" / search.BACKBONE, compile=False)
    model.set_weights([w + 1e-3 for w in model.get_weights()])  # other weights, another digest
    model.save(other)
    storage = search.storage_url(None, out / "search" / "small")
    with pytest.raises(EennError, match="was made with backbone"):
        search.run(project.override(BASE, **{"model.file": str(other)}), CONFIG, out, storage, progress=False)


def test_an_energy_search_minimizes_the_cost_models_energy(searched, tmp_path):
    out, _ = searched
    proj = project.override(BASE, name="energy", **{"model.file": str(out / "search" / "small" / search.BACKBONE)})
    config = search.SearchConfig(trials=2, epochs=2, objective="energy")
    study = search.run(proj, config, tmp_path, progress=False)
    done = [t for t in study.get_trials(deepcopy=False) if t.values is not None]
    assert done
    for t in done:
        cost = t.user_attrs["summary"]["calib"]["cost"]
        assert t.values[1] == pytest.approx(1e6 * cost["energy_j"])
        assert cost["energy_j"] == pytest.approx(cost["cycles"] / 64e6 * 9.9e-3)  # nrf52840: 64 MHz, 9.9 mW
    search.plot(study, "energy", tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").stat().st_size > 0
    with pytest.raises(EennError, match="was made with objective energy; this worker's is macs"):
        search.run(proj, replace(config, objective="macs"), tmp_path, progress=False)


def test_an_energy_search_needs_a_board_with_a_power_figure(tmp_path):
    with pytest.raises(EennError, match="board mps2-an386 has no power figure"):
        search.run(BASE, search.SearchConfig(board="mps2-an386", objective="energy"), tmp_path, progress=False)


@pytest.fixture
def postgres():
    """A PostgreSQL server of Debian's packages on 127.0.0.1, in a temporary directory, for
    this test only (as the postgres user when run as root: the server refuses root)."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    assert binaries, "PostgreSQL is missing: run 'make setup'"
    bindir = Path(binaries[-1]).parent
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="eenn-pg-"))
    os.chmod(home, 0o777)
    data, port = home / "data", free_port()

    def pg(tool, *args):
        subprocess.run([*as_user, str(bindir / tool), *args], check=True, capture_output=True, cwd=home)

    pg("initdb", "-D", str(data), "-U", "eenn", "--auth=trust")
    pg("pg_ctl", "-D", str(data), "-l", str(home / "log"), "-w", "-o",
       f"-p {port} -k {home} -c listen_addresses=127.0.0.1", "start")
    try:
        pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "eenn", "studies")
        yield f"postgresql://eenn@127.0.0.1:{port}/studies"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_share_a_study_through_postgresql(searched, postgres, tmp_path):
    import optuna

    out, _ = searched
    backbone = tmp_path / "backbone.keras"
    shutil.copy(out / "search" / "small" / search.BACKBONE, backbone)
    project_file = tmp_path / "base.toml"
    project_file.write_text('name = "shared"\n[data]\nsource = "digits"\n')
    trials = 6
    workers = [subprocess.Popen([sys.executable, "-m", "eenn.cli", "search", "--project", str(project_file),
                                 "--model-file", str(backbone), "--storage", postgres, "--trials", str(trials),
                                 "--epochs", "2", "--out", str(tmp_path / f"worker{k}"), "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    results = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), [r[1][-500:] for r in results]
    storage = optuna.storages.RDBStorage(postgres)
    try:
        finished = [t for t in search.open_study("shared", storage, 0).get_trials(deepcopy=False)
                    if t.state.name in ("COMPLETE", "PRUNED")]
    finally:
        storage.engine.dispose()
    assert len(finished) >= trials
    assert len({t.number for t in finished}) == len(finished)
    assert len({t.user_attrs.get("worker") for t in finished if t.state.name == "COMPLETE"}) == 2
    assert all(t.user_attrs["summary"]["exits"] for t in finished if t.state.name == "COMPLETE")
    assert "chosen: trial" in results[0][0] and "chosen: trial" in results[1][0]


def test_a_trial_that_cannot_be_built_is_infeasible_and_the_search_goes_on(monkeypatch, tmp_path):
    import optuna

    def refuse(*_, **__):
        raise EennError("stage 0 hands 2 tensors to later stages")

    monkeypatch.setattr(pipeline, "build", refuse)
    trial = optuna.trial.FixedTrial({"exit:block1": True, "head:block1": "dense", "headroom": 0.0})
    with pytest.raises(optuna.TrialPruned, match="cannot be built: stage 0 hands 2 tensors"):
        search.evaluate(trial, project.Project(), tmp_path / "backbone.keras", {"block1": ["dense"]}, 2,
                        search.SearchConfig(), None, None, tmp_path)
    assert trial.user_attrs["refused"] == "stage 0 hands 2 tensors to later stages"

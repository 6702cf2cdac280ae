"""Faults: a killed or terminated command leaves nothing a later run keeps, QEMU dies with eenn,
written files get the user's umask, and one broken board file breaks no other board."""

import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from command import user_environment
from eenn.hardware import boards
from eenn.errors import EennError
from eenn.util import atomic, paths

STARTUP_SECONDS = 120


def _eenn(*args, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "eenn.cli", *map(str, args)], cwd=cwd, env=user_environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _children(pid: int) -> list:
    """The processes whose parent is `pid`, with their command names (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append((int(entry.name), (entry / "comm").read_text().strip()))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {seconds} s")


def _temporaries(root: Path) -> list:
    return [p for p in root.rglob(".*") if ".pid" in p.name]


def test_a_killed_writer_leaves_what_the_next_write_removes(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from eenn.util import atomic
        with atomic.staged_directory({str(tmp_path / "build")!r}) as d:
            (d / "manifest.json").write_text("{{}}")
            with atomic.replaced_file(d / "model.keras") as f:
                f.write_text("half")
                print("writing", flush=True)
                time.sleep(60)
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout.readline().strip() == "writing"
        writer.kill()
    left = _temporaries(tmp_path)
    assert left, "the killed writer should have left its temporary directory"
    atomic.write_text(tmp_path / "other.txt", "a later run")
    assert _temporaries(tmp_path) == [] and not (tmp_path / "build").exists()


def test_a_live_writers_temporaries_are_kept(tmp_path):
    with atomic.staged_directory(tmp_path / "build") as d:
        atomic.write_text(tmp_path / "other.txt", "another writer in the same directory")
        assert d.is_dir()  # its process (this one) is alive


def _read_until(stream, text: str, seconds: float) -> str:
    """What `stream` (a pipe) gives until `text` appears in it, the process ends, or time is up."""
    seen, deadline = b"", time.monotonic() + seconds
    while text.encode() not in seen and time.monotonic() < deadline:
        if select.select([stream], [], [], 0.5)[0]:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_a_terminated_build_ends_with_143_and_writes_nothing(tmp_path):
    with _eenn("build", "--epochs", "10000", "--name", "killed", cwd=tmp_path) as build:
        started = _read_until(build.stderr, "epoch", STARTUP_SECONDS)
        assert "epoch" in started, started  # the training's progress bar: under way
        build.send_signal(signal.SIGTERM)
        stderr = started + build.communicate(timeout=60)[1]
    assert build.returncode == 143, stderr
    assert not (tmp_path / "generated" / "killed").exists() and _temporaries(tmp_path) == []
    assert "Traceback" not in stderr


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_qemu_dies_with_eenn(generated_build, tmp_path, how):
    out = generated_build.directory.parent
    with _eenn("emulate", "--board", "nrf52", "--name", generated_build.name, "--out", out, cwd=tmp_path) as emulate:
        qemu = _wait_for(lambda: [p for p, name in _children(emulate.pid) if name.startswith("qemu")]
                         or emulate.poll() is not None, STARTUP_SECONDS, "QEMU's start")
        assert qemu is not True and emulate.poll() is None, emulate.communicate()[1]
        emulate.send_signal(how)
        emulate.communicate(timeout=60)
    _wait_for(lambda: not _alive(qemu[0]), 10, "QEMU's end")


def test_written_files_follow_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        with atomic.staged_directory(tmp_path / "d") as d:
            atomic.write_text(d / "b.txt", "y")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "d" / "b.txt").stat().st_mode) == 0o640


def test_a_build_is_readable_as_any_other_output(default_build):
    mask = paths.umask()
    wrong = []
    for path in [default_build.directory, *default_build.directory.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if (mode if path.is_dir() else mode & 0o666) != (0o777 if path.is_dir() else 0o666) & ~mask:
            wrong.append(f"{path.name}: {mode:o}")
    assert wrong == []


def test_a_broken_board_file_breaks_only_itself(tmp_path, monkeypatch):
    for path in boards.BOARDS_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    good = (tmp_path / "nrf52840.toml").read_text()
    start = good.index("[uart]")
    (tmp_path / "broken.toml").write_text(good[:start].replace('"nrf52840"', '"broken"', 1)
                                          .replace('aliases = ["nrf52"]', "aliases = []")
                                          + good[good.index("\n[", start):])
    (tmp_path / "garbled.toml").write_bytes(b"\xff\xfe not toml")
    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    assert boards.get("nrf52").name == "nrf52840"
    with pytest.raises(EennError, match=r"broken\.toml: missing 'uart'"):
        boards.get("broken")
    with pytest.raises(EennError, match=r"garbled\.toml: not a text file"):
        boards.get("garbled")
    with pytest.raises(EennError, match=r"unknown board 'nrf99'; known boards: .*broken"):
        boards.get("nrf99")


def _softmax(input_scale: float) -> bytes:
    from eenn.codegen.singleop import INT8, SOFTMAX_SCALE, Tensor, single
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    tensors = [Tensor("logits", (1, 4), INT8, (input_scale,), (0,)), Tensor("probs", (1, 4), INT8, (SOFTMAX_SCALE,),
                                                                           (-128,))]
    return single("SOFTMAX", schema.BuiltinOptions.SoftmaxOptions, schema.SoftmaxOptionsT(beta=1.0), tensors)


def _hard_swish_too_fine() -> bytes:
    from eenn.codegen.singleop import INT8, Tensor, single

    tensors = [Tensor("x", (1, 4), INT8, (0.5,), (0,)), Tensor("y", (1, 4), INT8, (0.001,), (0,))]
    return single("HARD_SWISH", 0, None, tensors)


@pytest.mark.parametrize("model, said", [
    (lambda: _softmax(1e-9), r"stage 1: the TFLM interpreter aborts \(signal SIGABRT\) while preparing it"),
    (_hard_swish_too_fine, r"stage 1: the TFLM interpreter cannot prepare it \(.+\)"),
])
def test_an_interpreter_abort_is_contained_and_names_the_stage(model, said):
    """TFLM aborts the process on a softmax input scale below its range (a failed TFLITE_CHECK):
    preparing the stages in a child process turns that into an error, as it does a failed Prepare."""
    from eenn.tflite.reference import check_prepares

    check_prepares([_softmax(0.1)])
    with pytest.raises(EennError, match=said):
        check_prepares([_softmax(0.1), model()])


def test_a_softmax_scale_tflm_would_abort_on_is_refused_before_training(tmp_path):
    """Logits that span almost nothing (weights scaled to nothing, as a deep random network's are):
    named with the layer and the fix, in one line, before any training."""
    import keras
    import numpy as np

    inp = keras.Input((8,))
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax", name="out")(
        keras.layers.Dense(16, activation="relu", name="hidden")(inp)))
    kernel, bias = model.get_layer("out").get_weights()
    model.get_layer("out").set_weights([kernel * 1e-9, bias * 0])
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(0).random((80, 8), dtype=np.float32), y=np.arange(80) % 4)
    done = subprocess.run([sys.executable, "-m", "eenn.cli", "build", "--model-file", "m.keras", "--dataset", "d.npz"],
                          cwd=tmp_path, env=user_environment(), capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "SOFTMAX from layer 'out'" in done.stderr and "train the model" in done.stderr
    assert not (tmp_path / "generated").exists()

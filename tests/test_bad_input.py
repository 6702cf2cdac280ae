"""Bad input, as a new user and a hostile one give it: every case is one `eenn: error:` line
on stderr that names the problem, exit status 1 (2 for usage errors), and nothing written.

Each case runs `eenn` in a directory of its own, with its input files written there first; the
cases marked `build` read the session's default build, whose output root must not change
either. Cases that must be refused before the expensive work run without a trained model and
would time out if it started.
"""

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from command import run_eenn
from eenn import resources

BOARD_FILE = (resources.boards_dir() / "nrf52840.toml").read_text()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _images(n=60, classes=3, scale=1.0, offset=0, rng=np.random.default_rng(0)):
    return {"x": (rng.random((n, 8, 8, 1)) * scale).astype(np.float32), "y": np.arange(n) % classes + offset}


def _zip(**members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buffer.getvalue()


def _board(old: str, new: str) -> str:
    assert old in BOARD_FILE
    return BOARD_FILE.replace(old, new, 1)


def _without_section(name: str) -> str:
    start = BOARD_FILE.index(f"[{name}]")
    return BOARD_FILE[:start] + BOARD_FILE[BOARD_FILE.index("\n[", start):]


INFO = {"kind": "info", "time": 0, "board": "nrf52840", "build_id": "b", "model_digest": "ab" * 32, "stages": 3,
        "classes": 3, "cost_unit": "cycles"}
RECORD = {"kind": "record", "time": 0, "sequence": 0, "exit": 1, "class": 2, "probs": [-128, -128, 127],
          "cost": [100, 200], "cost_unit": "cycles", "route": "device", "offload_cost": None, "label": 2,
          "match": None}


def _log(*records, info=INFO) -> str:
    return "".join(json.dumps(e) + "\n" for e in ([info] if info else []) + list(records))


@dataclass(frozen=True)
class Case:
    args: tuple
    message: str  # a regular expression the error line must match (case-insensitive)
    status: int = 1
    files: dict = field(default_factory=dict)  # name -> text or bytes, written in the case's directory
    build: bool = False  # reads the session's default build (--out BUILD)
    tools: bool = True  # False: run with no program of the machine on PATH


P = "p.toml"
PROJECT = ("build", "--project", P)
BUILD = "{build}"

CASES = {
    # project files
    "project-binary": Case(PROJECT, r"p\.toml: not a text file", files={P: bytes(range(256)) + b"\xff" * 44}),
    "project-missing": Case(PROJECT, r"p\.toml: no such project file"),
    "project-directory": Case(("build", "--project", "."), r"\.: .*not a file"),
    "project-not-toml": Case(PROJECT, r"p\.toml: not valid TOML", files={P: "name = \n"}),
    "project-unknown-section": Case(PROJECT, r"unknown key 'modle'", files={P: "[modle]\nname = 'x'\n"}),
    "project-unknown-key": Case(PROJECT, r"unknown key 'training\.epoch'", files={P: "[training]\nepoch = 3\n"}),
    "project-section-not-table": Case(PROJECT, r"'data' must be a table", files={P: "data = 3\n"}),
    "project-name-type": Case(PROJECT, r"'name' must be str, got 3", files={P: "name = 3\n"}),
    "project-name-path": Case(PROJECT, r"project name 'a/b'", files={P: "name = 'a/b'\n"}),
    "epochs-huge-int": Case(PROJECT, r"training\.epochs .*at most",
                            files={P: "[training]\nepochs = 99999999999999999999999\n"}),
    "epochs-too-many": Case(PROJECT, r"training\.epochs .*100000000000.*at most",
                            files={P: "[training]\nepochs = 100000000000\n"}),
    "epochs-zero": Case(PROJECT, r"training\.epochs .*at least 1", files={P: "[training]\nepochs = 0\n"}),
    "batch-size-zero": Case(PROJECT, r"training\.batch_size .*at least 1", files={P: "[training]\nbatch_size = 0\n"}),
    "learning-rate-nan": Case(PROJECT, r"learning.rate", files={P: "[training]\nlearning_rate = nan\n"}),
    "learning-rate-inf": Case(PROJECT, r"learning.rate", files={P: "[training]\nlearning_rate = inf\n"}),
    "training-mode": Case(PROJECT, r"training.mode 'fast'", files={P: "[training]\nmode = 'fast'\n"}),
    "loss-weights-count": Case(PROJECT, r"exit_loss_weights", files={P: "[training]\nexit_loss_weights = [1]\n"}),
    "seed-negative": Case(PROJECT, r"seed .*-1", files={P: "seed = -1\n"}),
    "threshold-above-one": Case(PROJECT, r"decision\.threshold 1\.5", files={P: "[decision]\nthreshold = 1.5\n"}),
    "threshold-count": Case(PROJECT, r"1 thresholds? .*2 early exits", files={P: "[decision]\nthreshold = [0.9]\n"}),
    "threshold-entropy-negative": Case(PROJECT, r"decision\.threshold -0\.5",
                                       files={P: "[decision]\nmechanism = 'entropy'\nthreshold = -0.5\n"}),
    "patience-negative": Case(PROJECT, r"decision\.patience .*-1", files={P: "[decision]\npatience = -1\n"}),
    "tau-negative": Case(PROJECT, r"decision\.tau .*-3", files={P: "[decision]\ntau = -3\n"}),
    "max-run-negative": Case(PROJECT, r"decision\.max_run", files={P: "[decision]\nmax_run = -1\n"}),
    "distance-unknown": Case(PROJECT, r"decision\.distance 'l3'", files={P: "[decision]\ndistance = 'l3'\n"}),
    "mechanism-unknown": Case(PROJECT, r"decision\.mechanism 'fastest' is unknown",
                              files={P: "[decision]\nmechanism = 'fastest'\n"}),
    "exits-duplicate": Case(PROJECT, r"distinct", files={P: "[model]\nexits = ['block1', 'block1']\n"}),
    "exit-unknown": Case(PROJECT, r"no exit point 'block9'", files={P: "[model]\nexits = ['block9']\n"}),
    "head-unknown": Case(PROJECT, r"head family 'huge'", files={P: "[model]\nhead = 'huge'\n"}),
    "head-width-zero": Case(PROJECT, r"head_width", files={P: "[model]\nhead_width = 0\n"}),
    "head-width-huge": Case(PROJECT, r"model\.head_width 100000: must be at most",
                            files={P: "[model]\nhead_width = 100000\n"}),
    "stream-steps-huge": Case(PROJECT, r"calibration\.stream_steps .*at most", files={
        P: "[decision]\nmechanism = 'difference'\n[calibration]\nstream_steps = 1000000000\n"}),
    "model-unknown": Case(PROJECT, r"unknown model 'resnet9000'", files={P: "[model]\nname = 'resnet9000'\n"}),
    "calib-fraction": Case(PROJECT, r"calib_fraction", files={P: "[data]\ncalib_fraction = 1.5\n"}),
    "fractions-sum": Case(PROJECT, r"fractions", files={P: "[data]\ncalib_fraction = 0.5\ntest_fraction = 0.6\n"}),
    "sample-shape": Case(PROJECT, r"sample_shape", files={P: "[data]\nsample_shape = [0, -1]\n"}),
    "epsilon-zero": Case(PROJECT, r"epsilon", files={P: "[calibration]\nepsilon = 0.0\n"}),
    "delta-two": Case(PROJECT, r"delta", files={P: "[calibration]\ndelta = 2.0\n"}),
    "method-unknown": Case(PROJECT, r"calibration method 'guess'", files={P: "[calibration]\nmethod = 'guess'\n"}),
    "streams-zero": Case(PROJECT, r"streams", files={P: "[decision]\nmechanism = 'difference'\n"
                                                           "[calibration]\nstreams = 0\n"}),
    "split-out-of-range": Case(PROJECT, r"deployment\.split 5", files={P: "[deployment]\nsplit = 5\n"}),
    "link-unknown": Case(PROJECT, r"unknown link 'wifi'; known links: ble-1m",
                         files={P: "[deployment]\nlink = \"wifi\"\n"}),
    "latency-without-link": Case(PROJECT, r"max_latency_ms .*set deployment\.link",
                                 files={P: "[deployment]\nmax_latency_ms = 10\n"}),
    # data
    "npz-empty-file": Case(("build", "--dataset", "d.npz"), r"d\.npz: .*empty", files={"d.npz": b""}),
    "npz-text": Case(("build", "--dataset", "d.npz"), r"d\.npz: not an \.npz archive", files={"d.npz": "1,2,3\n"}),
    "npz-pickled": Case(("build", "--dataset", "d.npz"), r"d\.npz: .*object", files={
        "d.npz": _npz(x=np.array([[1, "a"]], dtype=object), y=np.array([0]))}),
    "npz-missing-y": Case(("build", "--dataset", "d.npz"), r"missing array 'y'", files={
        "d.npz": _npz(x=np.zeros((4, 2)))}),
    "labels-from-one": Case(("build", "--dataset", "d.npz"), r"labels .*1\.\.3.*0\.\.C-1", files={
        "d.npz": _npz(**_images(offset=1))}),
    "labels-gap": Case(("build", "--dataset", "d.npz"), r"no sample of class 1", files={
        "d.npz": _npz(x=np.zeros((6, 4, 1), np.float32), y=np.array([0, 2, 0, 2, 0, 2]))}),
    "labels-float": Case(("build", "--dataset", "d.npz"), r"non-integer labels", files={
        "d.npz": _npz(x=np.zeros((4, 4, 1)), y=np.array([0.5, 1, 0, 1]))}),
    "labels-count": Case(("build", "--dataset", "d.npz"), r"3 labels for 4 samples", files={
        "d.npz": _npz(x=np.zeros((4, 4, 1)), y=np.array([0, 1, 0]))}),
    "features-huge": Case(("build", "--dataset", "d.npz"), r"int8 quantization", files={
        "d.npz": _npz(**_images(scale=1e30))}),
    "features-nan": Case(("build", "--dataset", "d.npz"), r"NaN", files={
        "d.npz": _npz(x=np.full((4, 4, 1), np.nan), y=np.array([0, 1, 0, 1]))}),
    "one-class": Case(("build", "--dataset", "d.npz"), r"single class", files={
        "d.npz": _npz(x=np.zeros((4, 4, 1)), y=np.zeros(4, int))}),
    "split-train-class-missing": Case(("build", "--dataset", "d.npz"), r"y_train.*no sample of class 2", files={
        "d.npz": _npz(x_train=np.zeros((4, 4, 1)), y_train=np.array([0, 1, 0, 1]),
                      x_test=np.zeros((3, 4, 1)), y_test=np.array([0, 1, 2]))}),
    "csv-not-number": Case(("build", "--dataset", "d.csv"), r"line 2, column 'a': 'x' is not a number",
                           files={"d.csv": "a,label\nx,0\n"}),
    "csv-no-label": Case(("build", "--dataset", "d.csv"), r"no column 'label'", files={"d.csv": "a,b\n1,0\n"}),
    "csv-binary": Case(("build", "--dataset", "d.csv"), r"d\.csv: not a .*text", files={"d.csv": b"\xff\xfe\x00" * 40}),
    "dataset-suffix": Case(("build", "--dataset", "d.txt"), r"unsupported file type '\.txt'", files={"d.txt": "1"}),
    "dataset-unknown": Case(("build", "--dataset", "imagenet"), r"unknown dataset 'imagenet'"),
    "dataset-missing": Case(("build", "--dataset", "none.npz"), r"none\.npz: no such file"),
    # models
    "model-text": Case(("build", "--model-file", "m.keras"), r"m\.keras: not a Keras model file.*zip",
                       files={"m.keras": "this is not a model\n"}),
    "model-truncated": Case(("build", "--model-file", "m.keras"), r"m\.keras: not a Keras model file.*truncated",
                            files={"m.keras": _zip(**{"config.json": "{}" * 400})[:300]}),
    "model-zip-without-config": Case(("build", "--model-file", "m.keras"), r"m\.keras: .*config\.json",
                                     files={"m.keras": _zip(**{"readme.txt": "hello"})}),
    "model-h5-text": Case(("build", "--model-file", "m.h5"), r"m\.h5: not a Keras model file.*HDF5",
                          files={"m.h5": "text"}),
    "model-missing": Case(("build", "--model-file", "none.keras"), r"none\.keras: no such model file"),
    "model-suffix": Case(("build", "--model-file", "m.pt"), r"m\.pt: a model file is", files={"m.pt": "x"}),
    "zoo-model-text": Case(("zoo", "--model-file", "m.keras"), r"m\.keras: not a Keras model file",
                           files={"m.keras": "x"}),
    # boards
    "board-ram-type": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"b\.toml \[memory\]: 'ram_bytes' "
                           r"must be int, got 'lots'", files={"b.toml": _board("0x40000 ", '"lots" ')}, build=True),
    "board-ram-zero": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"'ram_bytes' must be positive",
                           files={"b.toml": _board("0x40000 ", "0 ")}, build=True),
    "board-clock-negative": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"'clock_hz' must be positive",
                                 files={"b.toml": _board("64000000", "-5")}, build=True),
    "board-no-uart": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"b\.toml: missing 'uart'", files={
        "b.toml": _without_section("uart")}, build=True),
    "board-unknown-key": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"unknown key 'colour'",
                              files={"b.toml": _board("fpu = true", "fpu = true\ncolour = 'blue'")}, build=True),
    "board-not-toml": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"b\.toml: not valid TOML",
                           files={"b.toml": "name = \n"}, build=True),
    "board-binary": Case(("firmware", "--board", "b.toml", "--out", BUILD), r"b\.toml: not a text file",
                         files={"b.toml": b"\xff\xfe" * 50}, build=True),
    "board-unknown": Case(("firmware", "--board", "nrf99", "--out", BUILD), r"unknown board 'nrf99'", build=True),
    "firmware-link-unknown": Case(("firmware", "--board", "nrf52", "--link", "wifi", "--out", BUILD),
                                  r"unknown link 'wifi'", build=True),
    "firmware-split-and-link": Case(("firmware", "--board", "nrf52", "--split", "1", "--link", "ble-1m", "--out",
                                     BUILD), r"give --split or --link", build=True),
    "board-file-missing": Case(("firmware", "--board", "none.toml", "--out", BUILD), r"none\.toml: no such board",
                               build=True),
    "flash-tool-missing": Case(("flash", "--board", "stm32f405", "--out", BUILD), r"openocd .*not (found|installed)",
                               build=True, tools=False),
    # command-line arguments
    "name-parent": Case(("simulate", "--name", "../../../../elsewhere"), r"--name.*plain name", status=2),
    "name-absolute": Case(("generate", "--name", "/tmp/eenn-elsewhere"), r"--name.*plain name", status=2),
    "name-build": Case(("build", "--name", "a/b"), r"--name.*plain name", status=2),
    "name-hidden": Case(("firmware", "--board", "nrf52", "--name", ".x"), r"--name.*plain name", status=2),
    "out-is-a-file": Case(("build", "--out", "f"), r"--out: f is a file", status=2, files={"f": "x"}),
    "epochs-flag": Case(("build", "--epochs", "0"), r"--epochs.*at least 1", status=2),
    "threshold-flag": Case(("build", "--threshold", "high"), r"--threshold.*'high'", status=2),
    "search-population": Case(("search", "--population", "0"), r"--population.*at least 2", status=2),
    "search-trials": Case(("search", "--trials", "0"), r"--trials.*at least 1", status=2),
    "search-max-loss": Case(("search", "--max-loss", "-1"), r"--max-loss", status=2),
    "search-storage": Case(("search", "--storage", "nosuch://x"), r"--storage 'nosuch://x'"),
    "search-storage-garbage": Case(("search", "--storage", "::"), r"--storage '::'"),
    "search-board": Case(("search", "--board", "nrf99"), r"unknown board 'nrf99'"),
    "emulate-samples": Case(("emulate", "--board", "nrf52", "--samples", "0"), r"--samples.*at least 1", status=2),
    "calibrate-epsilon": Case(("calibrate", "--epsilon", "1.5", "--out", BUILD), r"epsilon", build=True),
    "tradeoff-steps": Case(("tradeoff", "--steps", "0"), r"--steps.*at least 1", status=2),
    "tradeoff-steps-huge": Case(("tradeoff", "--steps", "10000000000"), r"--steps.*at most", status=2),
    "stream-file-text": Case(("tradeoff", "--stream", "--stream-file", "s.npz", "--out", BUILD),
                             r"s\.npz: not an \.npz archive", files={"s.npz": "1,2\n"}, build=True),
    "stream-file-binary-csv": Case(("tradeoff", "--stream-file", "s.csv", "--out", BUILD), r"s\.csv: not a readable",
                                   files={"s.csv": b"\xff\xfe" * 30}, build=True),
    "partition-link": Case(("partition", "--link", "pigeon", "--out", BUILD), r"link 'pigeon'", build=True),
    "partition-latency": Case(("partition", "--max-latency-ms", "-1", "--out", BUILD), r"--max-latency-ms",
                              status=2, build=True),
    "simulate-split": Case(("simulate", "--split", "train", "--out", BUILD), r"--split.*'train'", status=2,
                           build=True),
    "simulate-threshold": Case(("simulate", "--threshold", "2", "--out", BUILD), r"threshold 2", build=True),
    "log-directory-missing": Case(("emulate", "--board", "nrf52", "--log", "no/such/dir/run.jsonl", "--out", BUILD),
                                  r"no/such/dir.*no such directory", status=2, build=True),
    "plot-directory-missing": Case(("report", "--log", "r.jsonl", "--plot", "no/dir/r.png"),
                                   r"no/dir.*no such directory", status=2, files={"r.jsonl": _log(RECORD)}),
    # logs
    "log-binary": Case(("report", "--log", "r.jsonl"), r"r\.jsonl: not a text file", files={"r.jsonl": b"\xff" * 99}),
    "log-missing": Case(("report", "--log", "none.jsonl"), r"none\.jsonl"),
    "log-not-json": Case(("report", "--log", "r.jsonl"), r"r\.jsonl:1: not a log line", files={"r.jsonl": "x\n"}),
    "log-no-info": Case(("report", "--log", "r.jsonl"), r"no info line", files={"r.jsonl": _log(RECORD, info=None)}),
    "log-exit-type": Case(("report", "--log", "r.jsonl"), r"r\.jsonl:2: .*'exit'.*'zero'", files={
        "r.jsonl": _log({**RECORD, "exit": "zero"})}),
    "log-exit-range": Case(("report", "--log", "r.jsonl"), r"r\.jsonl:2: .*'exit' 7", files={
        "r.jsonl": _log({**RECORD, "exit": 7})}),
    "log-costs": Case(("report", "--log", "r.jsonl"), r"r\.jsonl:2: 5 costs for 3 stages", files={
        "r.jsonl": _log({**RECORD, "cost": [1, 2, 3, 4, 5]})}),
    "log-probs": Case(("report", "--log", "r.jsonl"), r"r\.jsonl:2: .*'probs'", files={
        "r.jsonl": _log({**RECORD, "probs": [1, 2]})}),
    "log-info-stages": Case(("report", "--log", "r.jsonl"), r"r\.jsonl:1: .*'stages'", files={
        "r.jsonl": _log(RECORD, info={**INFO, "stages": "three"})}),
    "log-board": Case(("report", "--log", "r.jsonl"), r"unknown board 'toaster'", files={
        "r.jsonl": _log(RECORD, info={**INFO, "board": "toaster"})}),
    # serial ports
    "monitor-regular-file": Case(("monitor", "--port", "f", "--seconds", "3"), r"f: not a serial port",
                                 files={"f": "x"}),
    "monitor-dev-null": Case(("monitor", "--port", "/dev/null", "--seconds", "3"), r"/dev/null: not a serial port"),
    "monitor-missing": Case(("monitor", "--port", "/dev/ttyNONE9", "--seconds", "3"), r"/dev/ttyNONE9: no such"),
    "monitor-bad-url": Case(("monitor", "--port", "nosuch://x", "--seconds", "3"), r"nosuch://x"),
    "edge-missing": Case(("edge", "--port", "/dev/nonexistent", "--seconds", "3", "--out", BUILD),
                         r"/dev/nonexistent: no such", build=True),
    "validate-missing": Case(("validate", "--board", "nrf52", "--port", "/dev/ttyNONE9", "--out", BUILD),
                             r"/dev/ttyNONE9: no such", build=True),
    "monitor-records": Case(("monitor", "--port", "/dev/null", "--records", "0"), r"--records.*at least 1", status=2),
    "monitor-baud": Case(("monitor", "--port", "/dev/null", "--baud", "-9600"), r"--baud.*at least 1", status=2),
}


def _tree(root: Path) -> dict:
    """Every path under `root` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_the_table_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line(name, tmp_path, request):
    case = CASES[name]
    for file, content in case.files.items():
        (tmp_path / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    roots = [tmp_path]
    args = case.args
    if case.build:
        out = request.getfixturevalue("default_build").directory.parent
        roots.append(out)
        args = tuple(str(out) if a == BUILD else a for a in args)
    before = [_tree(r) for r in roots]
    result = run_eenn(*args, cwd=tmp_path, timeout=60, **({} if case.tools else {"path": str(tmp_path / "bin")}))
    lines = result.stderr.splitlines()
    assert result.returncode == case.status, result.stderr
    assert len(lines) == 1 or (case.status == 2 and lines[-1].startswith("eenn ")), result.stderr
    assert lines[-1].startswith("eenn: error: ") or case.status == 2, result.stderr
    assert re.search(case.message, lines[-1], re.I), lines[-1]
    assert [_tree(r) for r in roots] == before, "the command wrote files"
    assert not result.stdout.strip() or case.status == 2, result.stdout


def test_a_good_log_is_reported(tmp_path):
    """The log cases' record is valid: only the field each case breaks is wrong."""
    (tmp_path / "r.jsonl").write_text(_log(RECORD))
    result = run_eenn("report", "--log", "r.jsonl", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.png").is_file()

"""Host simulator: the int8 stages chained under the TFLM reference interpreter.

TFLM (package tflite-micro) is the oracle for the device's int8 numerics. Each sample's
records are every exit's int8 probabilities, as the firmware would compute them if it ran
every stage.
"""

import io
import re
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EennError
from ..util import atomic
from ..util.capture import native_output

TFLM_ARENA_LIMIT = 16 << 20
_ALLOCATION = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


@dataclass(frozen=True)
class Records:
    """probs: int8 (samples, exits, classes); labels: int64 (samples,), -1 where unknown;
    inputs: the int8 samples that produced them (what the device is sent), if kept."""

    probs: np.ndarray
    labels: np.ndarray
    inputs: "np.ndarray | None" = None

    @property
    def predictions(self) -> np.ndarray:
        """Class per sample and exit; ties go to the lowest class index, as on the device."""
        return self.probs.argmax(axis=-1)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_exits(self) -> int:
        return self.probs.shape[1]

    def save(self, path: Path) -> None:
        arrays = {"probs": self.probs, "labels": self.labels}
        if self.inputs is not None:
            arrays["inputs"] = self.inputs
        atomic.write_bytes(path, _npz(arrays))

    @classmethod
    def load(cls, path: Path) -> "Records":
        try:
            with np.load(path, allow_pickle=False) as f:
                probs, labels = f["probs"], f["labels"]
                inputs = f["inputs"] if "inputs" in f.files else None
        except (OSError, KeyError, ValueError) as e:
            raise EennError(f"{path}: not a records file ({e})") from None
        if np.issubdtype(probs.dtype, np.floating) and np.isnan(probs).any():
            raise EennError(f"{path}: NaN in the recorded probabilities; records hold the int8 outputs of the stages")
        if probs.dtype != np.int8 or probs.ndim != 3 or labels.shape != probs.shape[:1]:
            raise EennError(f"{path}: records must hold int8 probs (samples, exits, classes) and one label per sample")
        if inputs is not None and (inputs.dtype != np.int8 or len(inputs) != len(probs)):
            raise EennError(f"{path}: inputs must be int8, one per sample")
        return cls(probs, labels.astype(np.int64), inputs)


def _npz(arrays: dict) -> bytes:
    """An .npz of `arrays` whose bytes depend on the arrays alone: np.savez stamps every member
    with the time of writing, and builds are to be bit-identical."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
            z.writestr(info, member.getvalue())
    return buf.getvalue()


def run_chained(run_stage, num_stages: int, x: np.ndarray) -> list:
    """Every stage's exit output for one sample, each stage fed the previous one's boundary."""
    outputs, current = [], x
    for k in range(num_stages):
        exit_output, current = run_stage(k, current)
        outputs.append(exit_output)
    return outputs


# Prepares each model read from stdin (4-byte little-endian length, then the bytes), printing
# its index first: TFLM aborts the process on some models (a failed TFLITE_CHECK)
_PREPARE = """
import sys
from tflite_micro import runtime
for k in range(int(sys.argv[1])):
    print(k, flush=True)
    runtime.Interpreter.from_bytes(sys.stdin.buffer.read(int.from_bytes(sys.stdin.buffer.read(4), "little")))
"""


def check_prepares(stage_models: list) -> None:
    """Refuse, naming the stage, a stage the TFLM interpreter cannot prepare or aborts on;
    the interpreter is first built in a child process, which an abort does not take down."""
    framed = b"".join(len(m).to_bytes(4, "little") + bytes(m) for m in stage_models)
    done = subprocess.run([sys.executable, "-c", _PREPARE, str(len(stage_models))], input=framed,
                          capture_output=True, timeout=600)
    if done.returncode == 0:
        return
    started = done.stdout.decode().split()
    stage = started[-1] if started else "?"
    said = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    if done.returncode < 0:
        why = f"aborts (signal {signal.Signals(-done.returncode).name}) while preparing it"
    else:
        why = f"cannot prepare it ({said[-1].strip() if said else f'status {done.returncode}'})"
    raise EennError(f"stage {stage}: the TFLM interpreter {why}; eenn's own checks of the stage passed, "
                    "so this is a gap in them: please report it with the model")


def _samples(count: int, progress: bool):
    """Sample indices, behind a progress bar if asked."""
    if not progress:
        return range(count)
    from tqdm import tqdm

    return tqdm(range(count), desc="TFLM simulation", unit="sample", file=sys.stderr, leave=False)


class StageChain:
    """TFLM interpreters for the stages; stage k's int8 boundary output is stage k+1's input."""

    def __init__(self, stage_models: list):
        from tflite_micro import runtime

        if not stage_models:
            raise EennError("no stages to run")
        self._interpreters = [runtime.Interpreter.from_bytes(bytes(m)) for m in stage_models]

    def run_stage(self, k: int, x: np.ndarray) -> tuple:
        """Stage k on int8 input `x`: (exit probabilities, boundary output or None for the last stage)."""
        interp = self._interpreters[k]
        interp.set_input(x, 0)
        interp.invoke()
        probs = interp.get_output(0).reshape(-1).copy()
        return probs, (interp.get_output(1).copy() if k < len(self._interpreters) - 1 else None)

    def run_one(self, x: np.ndarray) -> list:
        """Exit probabilities of every stage for one int8 sample of the input's shape (batch 1)."""
        return run_chained(self.run_stage, len(self._interpreters), x)

    def run(self, x: np.ndarray, labels=None, progress: bool = False) -> Records:
        """Run all samples of int8 `x` (samples, *input shape without batch)."""
        if x.dtype != np.int8:
            raise EennError(f"the stages take int8 input, got {x.dtype}")
        probs = np.stack([np.stack(self.run_one(x[i][None])) for i in _samples(len(x), progress)])
        labels = np.full(len(x), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
        return Records(probs.astype(np.int8), labels, x)


def run_outputs(model: bytes, x: np.ndarray, positions: list, labels=None, progress: bool = False) -> Records:
    """One int8 multi-output model (not a stage chain) on every sample of int8 `x`: records of
    the outputs at `positions` (indices into the interpreter's outputs), in that order."""
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(bytes(model))
    probs = []
    for i in _samples(len(x), progress):
        interp.set_input(x[i][None], 0)
        interp.invoke()
        probs.append(np.stack([interp.get_output(p).reshape(-1) for p in positions]))
    labels = np.full(len(x), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
    return Records(np.stack(probs).astype(np.int8), labels, x)


def tflm_arena_bytes(tflite: bytes) -> dict:
    """Arena bytes the TFLM interpreter allocates for a model, as its recording allocator reports
    them: total, non-persistent (activations, scratch) and persistent (tensor and op data)."""
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(bytes(tflite), arena_size=TFLM_ARENA_LIMIT)
    with native_output(fds=(2,)) as out:
        interp.print_allocations()
    found = dict(_ALLOCATION.findall(out.text))
    if set(found) != {"total", "head", "tail"}:
        raise EennError(f"unexpected TFLM allocation report: {out.text.strip()[:200]}")
    return {"total": int(found["total"]), "non_persistent": int(found["head"]), "persistent": int(found["tail"])}

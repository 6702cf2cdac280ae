"""The generated C, compiled for this machine and run through ctypes.

Same interface as the TFLM chain in `simulate` (run_stage, run_one), so that tests and
tools can hold the two side by side. The sources are compiled with the warning flags of
the device build, made fatal.
"""

import ctypes
import subprocess
from pathlib import Path

import numpy as np

from ..codegen import kernels
from ..errors import EennError
from ..tflite.reference import run_chained

CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
# the kernel paths that run here (codegen.kernels) and their own flags: dsp on C stand-ins, armv6m in C
PATHS = {"portable": (), "armv6m": (), "dsp": ("-DEENN_EMULATE_DSP",)}


def compile_shared(src: Path, library: Path, compiler: str = "gcc", path: str = "portable") -> Path:
    """Compile the generated C of `src` into one shared library, with the kernels of `path`;
    raises EennError with the compiler's message."""
    sources = [str(p) for p in kernels.sources(src, path)]
    cmd = [compiler, *CFLAGS, *kernels.defines(path), *PATHS[path], "-fPIC", "-shared", "-I", str(src), *sources,
           "-o", str(library)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise EennError(f"{compiler} failed on {src}: {done.stderr.strip()}")
    return Path(library)


class HostModel:
    """A generated model (codegen.Generated) compiled into `build_dir` with the kernels of
    `path` (see PATHS), with its own arena."""

    def __init__(self, generated, build_dir: Path, path: str = "portable"):
        library = compile_shared(generated.directory, Path(build_dir) / f"libeenn-{path}.so", path=path)
        self.lib = ctypes.CDLL(str(library))
        self.lib.eenn_run_stage.argtypes = [ctypes.c_int32, ctypes.c_void_p]
        self._stages = generated.stages
        self.arena = (ctypes.c_uint8 * generated.plan.arena_bytes)()
        self.base = ctypes.addressof(self.arena)

    def view(self, offset: int, nbytes: int) -> np.ndarray:
        """`nbytes` bytes of the arena from `offset`, as int8 (a view, not a copy)."""
        return np.frombuffer(self.arena, dtype=np.int8, count=nbytes, offset=offset)

    def run_stage(self, k: int, *inputs) -> tuple:
        """Stage k on its int8 input(s): (exit output, boundary output or None for the last stage)."""
        stage = self._stages[k]
        if len(inputs) != len(stage.input_offsets):
            raise EennError(f"stage {k} takes {len(stage.input_offsets)} input(s), got {len(inputs)}")
        for x, offset in zip(inputs, stage.input_offsets):
            x = np.ascontiguousarray(x, dtype=np.int8).reshape(-1)
            self.view(offset, x.size)[:] = x
        self.lib.eenn_run_stage(k, self.base)
        exit_output = self.view(stage.exit_offset, stage.exit_bytes).copy()
        if stage.boundary_bytes == 0:
            return exit_output, None
        return exit_output, self.view(stage.boundary_offset, stage.boundary_bytes).copy()

    def run_one(self, x: np.ndarray) -> list:
        """Exit outputs of every stage for one int8 sample."""
        return run_chained(self.run_stage, len(self._stages), x)

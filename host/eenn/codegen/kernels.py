"""Which kernel sources a build compiles: one variant per kernel, chosen like a driver.

Every kernel has a reference C file, kernels/portable/<source>.c; a kernel may also have a
variant of the same signature for cores with the DSP extension, kernels/dsp/<source>_dsp.c,
and one for cores with Helium, kernels/mve/<source>_mve.c. A board's `kernels` ("portable",
"dsp" or "mve", eenn.hardware.boards) picks the path; a kernel without a variant on that path
takes the file of the path it falls back to (mve: dsp, then portable). Generated sources hold every file
(flat, in src/), so one directory serves every board; the constants a Helium kernel reads in
another layout are there twice, one chosen by EENN_KERNELS_MVE (`defines`).
"""

import re
from pathlib import Path

from .. import ops, resources
from ..hardware.boards import KERNEL_PATHS as PATHS

KERNELS = resources.templates_dir() / "kernels"
INCLUDE = re.compile(r'^#include "([^"]+)"', re.MULTILINE)


def file_names() -> set:
    """The names of every kernel C file a generated src/ holds."""
    return {p.name for p in KERNELS.glob("*/*.c")}


def chosen(path: str) -> dict:
    """Kernel function -> the C file its `path` compiles (name in src/): the path's own, else
    that of the first path it falls back to that has one."""
    if path not in PATHS:
        raise ValueError(f"kernel path {path!r} is not one of {tuple(PATHS)}")
    files = {}
    for function, kind in ops.KERNELS.items():
        names = [f"{kind.source}.c" if p == "portable" else f"{kind.source}_{p}.c" for p in PATHS[path]]
        files[function] = next(n for n, p in zip(names, PATHS[path]) if (KERNELS / p / n).exists())
    return files


def headers(files: list) -> list:
    """The kernel headers (kernels/*.h) that `files` include, directly or through one another."""
    found, pending = set(), list(files)
    while pending:
        for name in INCLUDE.findall(Path(pending.pop()).read_text()):
            header = KERNELS / name
            if header.exists() and header not in found:
                found.add(header)
                pending.append(header)
    return sorted(found)


def defines(path: str) -> list:
    """The compiler flags of kernel path `path`: EENN_KERNELS_MVE picks the constants' layout
    (eenn_kernels.h)."""
    if path not in PATHS:
        raise ValueError(f"kernel path {path!r} is not one of {tuple(PATHS)}")
    return [f"-DEENN_KERNELS_MVE={int(path == 'mve')}"]


def sources(src: Path, path: str) -> list:
    """The C files of a generated src/ that a build with kernel path `path` compiles: the
    model's own, the shared helpers and one variant of each kernel."""
    src = Path(src)
    kernel_files = file_names()
    model = [p for p in src.glob("*.c") if p.name not in kernel_files]
    shared = [src / p.name for p in KERNELS.glob("shared/*.c")]
    return sorted(model) + sorted(shared) + sorted({src / name for name in chosen(path).values()})

"""Which kernel sources a build compiles: one variant per kernel, chosen like a driver.

Every kernel has a reference C file, kernels/portable/<source>.c; a kernel may also have a
variant of the same signature for Armv6-M cores (Cortex-M0/M0+: Thumb-1, no DSP),
kernels/armv6m/<source>_armv6m.c, one for cores with the DSP extension,
kernels/dsp/<source>_dsp.c, and one for cores with Helium, kernels/mve/<source>_mve.c. A
board's `kernels` (eenn.hardware.boards) picks the path; a kernel without a variant on that
path takes the file of the path it falls back to (mve: dsp, then portable). Generated sources
hold every file (flat, in src/), so one directory serves every board; the constants the
Helium and Armv6-M kernels read in layouts of their own are there once per layout, one chosen
by EENN_KERNELS_MVE and EENN_KERNELS_ARMV6M (`defines`).
"""

import re
from pathlib import Path

from .. import ops, resources
from ..hardware.boards import KERNEL_PATHS as PATHS

# paths whose kernels read constants laid out for them (ConstArray.layouts), and their names
LAYOUT_PATHS = {"mve": "Helium", "armv6m": "Armv6-M"}

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
    """The compiler flags of kernel path `path`: EENN_KERNELS_MVE and EENN_KERNELS_ARMV6M pick
    the constants' layout (eenn_kernels.h)."""
    if path not in PATHS:
        raise ValueError(f"kernel path {path!r} is not one of {tuple(PATHS)}")
    return [f"-DEENN_KERNELS_{layout.upper()}={int(path == layout)}" for layout in LAYOUT_PATHS]


def sources(src: Path, path: str) -> list:
    """The C files of a generated src/ that a build with kernel path `path` compiles: the
    model's own, the shared helpers and one variant of each kernel."""
    src = Path(src)
    kernel_files = file_names()
    model = [p for p in src.glob("*.c") if p.name not in kernel_files]
    shared = [src / p.name for p in KERNELS.glob("shared/*.c")]
    return sorted(model) + sorted(shared) + sorted({src / name for name in chosen(path).values()})

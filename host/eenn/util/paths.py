"""The paths eenn writes: plain build names, parents that must exist, and temporary files
whose owner can be told from their name, so that ones left by a killed process are removed."""

import os
import re
import shutil
from pathlib import Path

from ..errors import EennError

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TEMPORARY = re.compile(r"^\..+\.pid(\d+)\.tmp")  # .NAME.pid<PID>.tmp<random>[suffix]


def is_plain_name(name: str) -> bool:
    """A name that is one path component: letters, digits, '.', '_', '-', not starting with '.'."""
    return bool(_PLAIN_NAME.match(name))


def existing_parent(path: Path) -> Path:
    """`path`, whose directory must exist already (eenn creates no directory it was not asked for)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise EennError(f"{path}: no such directory {path.parent}/; create it first, or write elsewhere")
    return path


def temporary_prefix(final: Path) -> str:
    """The name prefix of a temporary file or directory that will become `final`."""
    return f".{Path(final).name}.pid{os.getpid()}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_SWEPT = set()  # directories this process has cleaned already


def remove_stale(directory: Path) -> None:
    """Remove the temporary files and directories in `directory` whose process has died (once
    per directory and process: what a process that dies later leaves, the next run removes)."""
    directory = Path(directory).resolve()
    if directory in _SWEPT:
        return
    _SWEPT.add(directory)
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match and not _alive(int(match.group(1))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def umask() -> int:
    """The process's umask (from /proc where it can be read without changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_user_made(path: Path, directory: bool = False) -> None:
    """Give a file made by mkstemp (0600) or mkdtemp (0700) the mode any other file gets."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())

"""Writes that leave either the old content or the complete new one, never half of it."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .paths import as_user_made, remove_stale, temporary_prefix


@contextlib.contextmanager
def replaced_file(path: Path):
    """Yield a temporary path beside `path`, with its suffix, for a writer that takes a file
    name; on success the file replaces `path`, on any exception it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        as_user_made(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    with replaced_file(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def staged_directory(final: Path):
    """Yield a temporary directory beside `final`; on success it replaces `final` whole.

    On any exception the temporary directory is removed and `final` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final.parent)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=temporary_prefix(final)))
    as_user_made(tmp, directory=True)
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f"{temporary_prefix(final)}old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


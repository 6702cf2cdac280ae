"""The data eenn ships with its code: the board files (boards/ in the checkout, the package
eenn.resources.boards when installed) and the firmware templates (firmware_templates/, the
package eenn.resources.templates). Found through importlib.resources, so an installed wheel
reads its own copies and an editable install the checkout's."""

from importlib.resources import files
from pathlib import Path

from ..errors import EennError


def _directory(package: str) -> Path:
    found = files(f"{__name__}.{package}")
    if not isinstance(found, Path):
        raise EennError(f"eenn's {package} are not files on disk ({found}): install eenn unzipped")
    return found


def boards_dir() -> Path:
    """boards/: one TOML file per board, cpus/ (cost tables) and links/."""
    return _directory("boards")


def templates_dir() -> Path:
    """firmware_templates/: the Jinja templates of the generated C, the kernels and the firmware."""
    return _directory("templates")

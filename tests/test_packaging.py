"""eenn as a package: sub-packages whose imports go one way, every one of them listed for the
wheel, a wheel that holds every board file and template, and an installed wheel that builds,
generates, makes firmware and emulates from an empty directory."""

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from command import user_environment

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "host" / "eenn"
# Bottom to top: a unit imports only units before it (the root modules count as units).
LAYERS = ("errors", "limits", "util", "resources", "protocol", "hardware", "tflite", "ops", "frontend", "decision",
          "project", "design", "codegen", "report", "artifact", "pipeline", "firmware", "device", "costs", "studies",
          "robot", "cli")
RESOURCES = {"eenn.resources.boards": ROOT / "boards", "eenn.resources.templates": ROOT / "firmware_templates"}


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_units(path: Path) -> set:
    rel = path.relative_to(PACKAGE)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(rel.parts[:-1])[: len(rel.parts) - node.level]
            target = base + (node.module.split(".") if node.module else [])
            found |= {target[0]} if target else {a.name for a in node.names}
    return found - {_unit(path)}


def test_imports_go_one_way():
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert units == set(LAYERS)
    wrong = [f"{p.relative_to(PACKAGE)} imports {u}" for p in sorted(PACKAGE.rglob("*.py")) if _unit(p) != "__init__"
             for u in sorted(_imported_units(p)) if LAYERS.index(u) > LAYERS.index(_unit(p))]
    assert wrong == []


def test_every_package_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {".".join(("eenn", *p.parent.relative_to(PACKAGE).parts)) for p in PACKAGE.rglob("__init__.py")}
    assert listed == packages | set(RESOURCES)


def _pip(*args, cwd=ROOT, python=sys.executable) -> None:
    done = subprocess.run([python, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of what it is made of (setuptools writes build/ beside it)."""
    sources = tmp_path_factory.mktemp("sources")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, sources)
    for name in ("host", "boards", "firmware_templates"):
        shutil.copytree(ROOT / name, sources / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _pip("wheel", "-q", "--no-deps", ".", "-w", sources / "dist", cwd=sources)
    (found,) = (sources / "dist").glob("eenn-*.whl")
    return found


def test_the_wheel_holds_every_board_file_and_template(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for package, folder in RESOURCES.items():
        shipped = {f"{package.replace('.', '/')}/{p.relative_to(folder)}" for p in folder.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        assert shipped and shipped <= names, sorted(shipped - names)


def test_an_installed_wheel_builds_and_emulates_from_an_empty_directory(wheel, tmp_path):
    """A fresh virtual environment holding the wheel (its dependencies are this environment's,
    through a .pth file; `make install-check` installs them from the lock instead)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], check=True,
                          capture_output=True, text=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _pip("install", "-q", "--no-deps", wheel, python=python)
    work = tmp_path / "empty"
    work.mkdir()
    board = work / "my-board.toml"
    board.write_text((ROOT / "boards" / "nrf52840.toml").read_text().replace('name = "nrf52840"', 'name = "my-board"'))
    env = {**user_environment(), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    where = subprocess.run([python, "-c", "import eenn; print(eenn.__file__)"], cwd=work, env=env, check=True,
                           capture_output=True, text=True).stdout
    assert where.startswith(site), where  # the wheel's copy, not the checkout's
    for command in (["build", "--epochs", "5", "--quiet"], ["generate"], ["firmware", "--board", "nrf52"],
                    ["firmware", "--board", board], ["emulate", "--board", board, "--samples", "20", "--quiet"]):
        done = subprocess.run([venv / "bin" / "eenn", *map(str, command)], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"eenn {' '.join(map(str, command))}: {done.stderr}"
    assert "20 samples, records all identical to the host simulator" in done.stdout
    assert (work / "generated" / "default" / "my-board" / "firmware.elf").exists()

"""The build artifact: generated/NAME/ read back as the same typed manifest, and every damaged
or stale piece refused with one line that says what to run."""

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import eenn
from eenn import artifact
from eenn.errors import EennError


@pytest.fixture
def copy(default_build, tmp_path):
    """A copy of the default build to damage."""
    shutil.copytree(default_build.directory, tmp_path / "default")
    return tmp_path / "default"


def _edit_manifest(directory: Path, change) -> None:
    path = directory / artifact.MANIFEST
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_the_manifest_reads_back_as_written(default_build, tmp_path):
    artifact.write_manifest(tmp_path, default_build.manifest)
    assert (tmp_path / artifact.MANIFEST).read_text() == (default_build.directory / artifact.MANIFEST).read_text()
    assert artifact.Build.open(tmp_path).manifest == default_build.manifest


def test_what_the_manifest_derives(default_build):
    m = default_build.manifest
    assert m.cumulative_macs == sorted(m.cumulative_macs)
    assert m.cumulative_macs[-1] >= m.full_model_macs  # every exit run: the backbone and the heads
    assert len(m.exit_quantizations) == len(m.stages) == len(m.exits)
    assert m.num_classes == 10 and len(m.model_digest) == 32
    retrained = replace(m, stages=(replace(m.stages[0], sha256="0" * 64), *m.stages[1:]))
    assert retrained.model_digest != m.model_digest


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format=3), "manifest format 3 is not 4; run 'eenn build' again"),
    (lambda d: d.pop("stages"), "not a complete manifest (KeyError: 'stages'); run 'eenn build' again"),
    (lambda d: d["project"].update(seed="zero"), "manifest.json [project]: 'seed' must be int, got 'zero'"),
])
def test_a_stale_or_damaged_manifest_is_refused(copy, change, message):
    _edit_manifest(copy, change)
    with pytest.raises(EennError, match=re.escape(message)):
        artifact.Build.open(copy)


def test_files_that_do_not_match_the_manifest_are_refused(copy):
    build = artifact.Build.open(copy)
    (copy / "stage1.tflite").write_bytes(b"TFL3 but not the stage")
    with pytest.raises(EennError, match="stage1.tflite: does not match the manifest's digest; run 'eenn build' again"):
        build.stage_models()
    (copy / "stage1.tflite").unlink()
    with pytest.raises(EennError, match="stage1.tflite: missing"):
        build.stage_models()
    with pytest.raises(EennError, match="no records for split 'train'; expected one of calib, test"):
        build.records("train")
    with pytest.raises(EennError, match="no generated sources; run 'eenn generate' first"):
        build.code()
    (copy / artifact.MANIFEST).write_text("{")
    with pytest.raises(EennError, match="not valid JSON"):
        artifact.Build.open(copy)


def test_the_code_summary_reads_back(generated_build, tmp_path):
    code = generated_build.code()
    assert code.arena_bytes > 0 and len(code.stages) == len(generated_build.manifest.stages)
    assert [s.macs for s in code.stages] == [s.macs for s in generated_build.manifest.stages]
    moved = replace(generated_build, directory=tmp_path)
    moved.write_code(code)
    assert moved.code() == code


def test_no_module_but_the_artifact_reads_the_manifest_by_key():
    package = Path(eenn.__file__).parent
    hits = [f"{p.name}:{n}" for p in sorted(package.rglob("*.py")) if p.name != "artifact.py"
            for n, line in enumerate(p.read_text().splitlines(), 1) if 'manifest["' in line]
    assert hits == []

import pytest

from eenn import project
from eenn.errors import EennError


def _project_file(tmp_path, text: str):
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file():
    p = project.load(None)
    assert p.model.name == "digits-cnn" and p.exit_points == ("block1", "block2")
    assert p.training.mode is None and p.training.resolved(False).mode == "joint"
    assert p.decision.threshold is None and p.calibration.method == "ucb-hb"


def test_file_and_overrides(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "kws"\nseed = 3\n[model]\nname = "ds-cnn"\nexits = ["block2"]\n'
                    '[training]\nmode = "frozen"\nepochs = 5\n[decision]\nthreshold = [0.8]\n')
    p = project.load(path)
    assert (p.name, p.seed, p.exit_points, p.training.mode, p.decision.threshold) == \
        ("kws", 3, ("block2",), "frozen", (0.8,))
    p = project.override(p, seed=None, **{"training.epochs": 9, "model.exits": ("block1", "block3"),
                                          "decision.threshold": 0.8})
    assert p.training.epochs == 9 and p.seed == 3 and p.exit_points == ("block1", "block3")
    p.validate()


@pytest.mark.parametrize("text, message", [
    ('[calibration]\nmethod = "none"\n', "decision.threshold is not given and calibration.method is 'none'"),
    ('[calibration]\nepsilon = 1.5\n', "epsilon must be in"),
    ('[calibration]\nrisk = "loss"\n', "risk 'loss' is not one of"),
])
def test_calibration_settings_are_checked(tmp_path, text, message):
    with pytest.raises(EennError, match=message):
        project.load(_project_file(tmp_path, text))
    project.load(_project_file(tmp_path, '[decision]\nthreshold = 0.8\n[calibration]\nmethod = "none"\n'))


@pytest.mark.parametrize("text, message", [
    ("colour = 1\n", "unknown key 'colour'"),
    ("[model]\nsize = 1\n", "unknown key 'model.size'"),
    ("[training]\nepochs = 'ten'\n", "'training.epochs' must be int"),
    ("[training]\nepochs = true\n", "'training.epochs' must be int"),
    ("model = 1\n", "'model' must be a table"),
    ("name = \n", "not valid TOML"),
    ("[calibration]\nepsilon = 'small'\n", "'calibration.epsilon' must be float"),
])
def test_file_errors_name_file_and_key(tmp_path, text, message):
    path = _project_file(tmp_path, text)
    with pytest.raises(EennError, match=message) as e:
        project.load(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("changes, message", [
    ({"model.name": "vgg"}, "unknown model 'vgg'"),
    ({"model.exits": ("block9",)}, "no exit point 'block9'"),
    ({"training.mode": "lazy"}, "training.mode 'lazy'"),
    ({"training.epochs": 0}, "at least 1"),
    ({"decision.mechanism": "coin"}, "mechanism 'coin'"),
    ({"name": "../up"}, "project name"),
    ({"deployment.split": 3}, r"deployment.split 3: the stages are 0 to 2"),
    ({"deployment.split": 0}, r"deployment.split 0"),
    ({"deployment.edge_timeout_ms": 0.0}, "edge_timeout_ms must be positive"),
])
def test_validation(changes, message):
    with pytest.raises(EennError, match=message):
        project.override(project.Project(), **changes).validate()


def test_missing_file(tmp_path):
    with pytest.raises(EennError, match="no such project file"):
        project.load(tmp_path / "none.toml")


def test_the_deployment_section_sets_the_split(tmp_path):
    loaded = project.load(_project_file(tmp_path, "[deployment]\nsplit = 1\nfallback = false\n"))
    assert (loaded.deployment.split, loaded.deployment.fallback, loaded.deployment.edge_timeout_ms) == (1, False, 200.0)
    with pytest.raises(EennError, match="'deployment.split' must be int"):
        project.load(_project_file(tmp_path, "[deployment]\nsplit = 'one'\n"))


@pytest.mark.parametrize("text, changes, message", [
    ("[deployment]\nsplit = 5\n", {}, "deployment.split 5: the stages are 0 to 2"),
    ('[decision]\nmechanism = "vote"\n', {}, "decision.mechanism 'vote' is unknown"),
    ("", {"model.exits": ("block2", "block1")}, "in network order"),
])
def test_the_project_is_validated_once_on_loading_and_errors_name_the_file(tmp_path, text, changes, message):
    path = _project_file(tmp_path, text)
    with pytest.raises(EennError, match=message) as e:
        project.load(path, **changes)
    assert str(e.value).startswith(f"{path}: ")

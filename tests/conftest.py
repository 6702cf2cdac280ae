import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def default_build(tmp_path_factory):
    """The default digits EENN, built once per session (about 30 s on 2 cores)."""
    from eenn import pipeline, project

    out = tmp_path_factory.mktemp("generated")
    return pipeline.build(project.Project(), out, progress=False, log=lambda *_: None)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

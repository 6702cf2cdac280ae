import contextlib
import fcntl
import os
import shutil

import numpy as np
import pytest

import eenn  # noqa: F401  (first: it sets TensorFlow's environment before any test loads TensorFlow)


@contextlib.contextmanager
def _made_once(tmp_path_factory, name: str):
    """A directory shared by the pytest-xdist workers of this run, held under a lock: the first
    worker to enter fills it, the others find it filled. Outside xdist, this session's own."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    root = tmp_path_factory.getbasetemp().parent / f"shared-{run}" if run else tmp_path_factory.getbasetemp()
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield directory


@pytest.fixture(scope="session")
def default_build(tmp_path_factory):
    """The default digits EENN (an artifact.Build), built once per run (about 25 s), in a
    directory of this worker's own (tests generate code into it)."""
    from eenn import artifact, pipeline, project

    with _made_once(tmp_path_factory, "default-build") as shared:
        if not (shared / "default" / artifact.MANIFEST).exists():
            pipeline.build(project.Project(), shared, progress=False, log=lambda *_: None)
        own = tmp_path_factory.mktemp("generated") / "default"
        shutil.copytree(shared / "default", own)
    return artifact.Build.open(own)


@pytest.fixture(scope="session")
def generated_build(default_build):
    """The default build with its generated C."""
    from eenn import pipeline

    pipeline.generate(default_build)
    return default_build


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def converted():
    """Each zoo model with its default exits, seeded random weights, quantized on random inputs:
    get(name) -> (zoo entry, whole int8 model, float inputs)."""
    from eenn.frontend import quantize, training, zoo
    from eenn.frontend.heads import HeadSpec

    cache = {}

    def get(name):
        if name not in cache:
            entry = zoo.get(name)
            rng = np.random.default_rng(0)
            x = rng.random((32, *entry.input_shape), dtype=np.float32)
            model = training.untrained(entry, entry.default_exits, HeadSpec(), entry.num_classes, 0, x)
            batch1 = training.build_eenn(entry, entry.default_exits, HeadSpec(), entry.num_classes, batch_size=1)
            cache[name] = (entry, quantize.to_int8_tflite(model, batch1, x), x)
        return cache[name]

    return get

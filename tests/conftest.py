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


@pytest.fixture(scope="session")
def converted():
    """Each zoo model with its default exits, seeded random weights, quantized on random inputs:
    get(name) -> (zoo entry, whole int8 model, float inputs)."""
    from eenn import quantize, training, zoo
    from eenn.exits import HeadSpec

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

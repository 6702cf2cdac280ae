import numpy as np

from eenn.frontend import data, training, zoo
from eenn.frontend.heads import HeadSpec

SMALL = training.TrainingConfig(epochs=2, batch_size=64)


def _split():
    return data.split(data.load("digits"), seed=0)


def test_frozen_training_leaves_the_backbone_alone_while_heads_train():
    """In frozen mode the second phase trains the heads only: the final exit stays as it was."""
    import dataclasses

    split = _split()
    entry = zoo.get("digits-cnn")
    cfg = dataclasses.replace(SMALL, mode="frozen")
    model = training.train(entry, split, ("block1",), HeadSpec(), cfg, seed=0, progress=False)
    backbone_only = training.train(entry, split, ("block1",), HeadSpec(),
                                   dataclasses.replace(cfg, mode="joint", exit_loss_weights=(0.0, 1.0)),
                                   seed=0, progress=False)
    final_frozen = training.predict(model, split.test.x)[-1]
    final_backbone = training.predict(backbone_only, split.test.x)[-1]
    np.testing.assert_allclose(final_frozen, final_backbone, rtol=1e-5, atol=1e-6)
    assert not np.allclose(training.predict(model, split.test.x)[0], training.predict(backbone_only, split.test.x)[0])


def test_training_is_cached_by_configuration_and_data(tmp_path):
    split = _split()
    entry = zoo.get("digits-cnn")
    a, path_a = training.train_cached(entry, split, ("block1",), HeadSpec(), SMALL, 0, tmp_path, progress=False)
    b, path_b = training.train_cached(entry, split, ("block1",), HeadSpec(), SMALL, 0, tmp_path, progress=False)
    assert path_a == path_b and len(list(tmp_path.glob("*.keras"))) == 1
    np.testing.assert_array_equal(training.predict(a, split.test.x), training.predict(b, split.test.x))
    training.train_cached(entry, split, ("block1",), HeadSpec(), SMALL, 1, tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.keras"))) == 2  # another seed is another model


def test_training_is_reproducible():
    split = _split()
    entry = zoo.get("digits-cnn")
    runs = [training.predict(training.train(entry, split, ("block1",), HeadSpec(), SMALL, 5, progress=False),
                             split.test.x[:50]) for _ in range(2)]
    np.testing.assert_array_equal(*runs)


def test_heads_train_alike_on_the_backbone_outputs_kept_and_through_the_backbone(monkeypatch):
    """The heads train on what the frozen backbone gave, computed once; with too little room
    for that, through the backbone for every batch: the same heads either way."""
    import keras

    split = _split()
    entry = zoo.get("digits-cnn")
    trained = []
    for room in [training.FEATURE_CACHE_BYTES, 0]:
        monkeypatch.setattr(training, "FEATURE_CACHE_BYTES", room)
        keras.utils.set_random_seed(0)
        model = training.build_eenn(entry, ("block1", "block2"), (HeadSpec("dense"), HeadSpec("conv", 8)),
                                    split.num_classes)
        before = model.get_layer("exit0").get_weights()[0].copy()
        training.fit_heads(model, split, SMALL, seed=1, progress=False)
        assert not np.allclose(model.get_layer("exit0").get_weights()[0], before)
        trained.append(training.predict(model, split.test.x))
    np.testing.assert_allclose(trained[0], trained[1], atol=1e-4)


def test_the_fused_adam_steps_as_keras_adam_does(rng):
    import keras

    start = rng.normal(size=(3, 5)).astype(np.float32)
    gradients = rng.normal(size=(6, 3, 5)).astype(np.float32)
    stepped = []
    for optimizer in [keras.optimizers.Adam(0.01), training.adam(0.01)]:
        variable = keras.Variable(start)
        for g in gradients:
            optimizer.apply_gradients([(g, variable)])
        stepped.append(np.asarray(variable))
    assert not np.allclose(stepped[0], start)
    np.testing.assert_allclose(stepped[1], stepped[0], rtol=1e-5, atol=1e-7)

"""Training an EENN (joint, or heads-only on a frozen backbone), cached by digest.

The cache key covers everything that changes the weights: model, exits, head, training
parameters, seed, the training data's digest, the TensorFlow version, and its oneDNN and
thread settings.
"""

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import EennError, check_choice, check_range
from ..limits import FEATURE_CACHE_BYTES, MAX_BATCH_SIZE, MAX_EPOCHS
from ..util import atomic
from . import heads
from .data import Split

TRAINING_MODES = ("joint", "frozen", "heads", "candidates")
SHOWN_ACCURACIES = 6  # the progress bar shows a range beyond this many outputs


@dataclass(frozen=True)
class TrainingConfig:
    # joint: weighted sum of exit losses; frozen: backbone first, then heads only; heads: the
    # heads only, on a backbone trained already (a model file); candidates: the heads only, each
    # trained with every candidate head in one pass (eenn.design: a design keeps the weights it
    # was chosen with). None: heads for a model file, else joint.
    mode: "str | None" = None
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    exit_loss_weights: "tuple | None" = None  # joint mode; default: all exits weigh 1

    def resolved(self, pretrained: bool) -> "TrainingConfig":
        """This configuration with its mode decided for a backbone that is (or is not) trained."""
        mode = self.mode or ("heads" if pretrained else "joint")
        if mode == "heads" and not pretrained:
            raise EennError("training mode 'heads' keeps the backbone's weights, and a zoo backbone has none "
                            "trained; use joint or frozen, or give a model file")
        return replace(self, mode=mode)

    def validate(self, num_exits: int) -> None:
        if self.mode is not None:
            check_choice("training.mode", self.mode, TRAINING_MODES)
        check_range("training.epochs", self.epochs, 1, MAX_EPOCHS)
        check_range("training.batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        check_range("training.learning_rate", self.learning_rate, 0, 1)
        if self.learning_rate == 0:
            raise EennError("training.learning_rate 0.0: must be positive")
        w = self.exit_loss_weights
        if w is not None:
            if len(w) != num_exits:
                raise EennError(f"training.exit_loss_weights {list(w)}: needs {num_exits} numbers, one per exit")
            for weight in w:
                check_range("training.exit_loss_weights", weight, 0)


def _progress_bar(total: int, desc: str):
    """A Keras callback drawing a tqdm bar over epochs, with each exit's training accuracy."""
    import keras
    from tqdm import tqdm

    class ProgressBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=total, desc=desc, unit="epoch", file=sys.stderr, leave=False)

        def on_epoch_end(self, epoch, logs=None):
            accs = [v for k, v in sorted((logs or {}).items()) if k.endswith("accuracy")]
            shown = " ".join(f"{v:.3f}" for v in accs) if len(accs) <= SHOWN_ACCURACIES else \
                f"{min(accs):.3f}..{max(accs):.3f} over {len(accs)} outputs"
            self.bar.set_postfix_str("acc " + shown)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return ProgressBar()


def cache_key(model_name: str, exit_points, head, cfg: TrainingConfig, seed: int, split: Split) -> str:
    import tensorflow as tf

    desc = {
        "model": model_name, "exits": list(exit_points), "head": heads.as_dict(head), "training": asdict(cfg),
        "seed": seed, "train": split.train.digest(), "tensorflow": tf.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS"), "format": 2,
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:24]


def build_eenn(entry, exit_points, head, num_classes: int, batch_size=None):
    backbone = entry.build(entry.input_shape, num_classes, batch_size)
    return heads.attach(backbone, exit_points, num_classes, head, entry.final_softmax)


def adam(learning_rate):
    """Keras' Adam with each variable's step one fused TensorFlow op (ResourceApplyAdam, the
    same update) instead of about fifteen: with many small exit heads, those ops took most of
    a training step."""
    import keras
    import tensorflow as tf

    class FusedAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            dtype = variable.dtype
            index = self._get_variable_index(variable)
            beta_1, beta_2 = keras.ops.cast(self.beta_1, dtype), keras.ops.cast(self.beta_2, dtype)
            step = keras.ops.cast(self.iterations + 1, dtype)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
                beta1_power=beta_1 ** step, beta2_power=beta_2 ** step, lr=keras.ops.cast(learning_rate, dtype),
                beta1=beta_1, beta2=beta_2, epsilon=keras.ops.cast(self.epsilon, dtype),
                grad=keras.ops.cast(gradient, dtype))

    return FusedAdam(learning_rate)


def _fit(model, x, y: np.ndarray, cfg: TrainingConfig, weights, seed: int, desc: str, progress: bool):
    """Fit every output of `model` to the labels `y` (`x`: its input, or a list of its inputs)."""
    import keras

    n_out = len(model.outputs)
    steps_per_epoch = -(-len(y) // cfg.batch_size)
    model.compile(
        optimizer=adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, cfg.epochs * steps_per_epoch)),
        loss=["sparse_categorical_crossentropy"] * n_out,
        loss_weights=list(weights),
        metrics=[["accuracy"]] * n_out,
        steps_per_execution=steps_per_epoch,  # an epoch per call of the training function: less overhead per step
    )
    keras.utils.set_random_seed(seed)
    model.fit(
        x, [y] * n_out, epochs=cfg.epochs, batch_size=cfg.batch_size,
        shuffle=True, verbose=0, callbacks=[_progress_bar(cfg.epochs, desc)] if progress else [],
    )


def train(entry, split: Split, exit_points, head, cfg: TrainingConfig, seed: int, progress: bool = True):
    """A trained Keras EENN (outputs: one per exit, the final one last)."""
    import keras

    num_exits = len(exit_points) + 1
    cfg = cfg.resolved(entry.pretrained)
    cfg.validate(num_exits)
    keras.utils.set_random_seed(seed)
    model = build_eenn(entry, exit_points, head, split.num_classes)
    if cfg.mode == "joint":
        weights = cfg.exit_loss_weights or [1.0] * num_exits
        _fit(model, split.train.x, split.train.y, cfg, weights, seed, "training (joint)", progress)
        return model
    if cfg.mode == "frozen":
        weights = [0.0] * (num_exits - 1) + [1.0]
        _fit(model, split.train.x, split.train.y, cfg, weights, seed, "training backbone", progress)
    fit_heads(model, split, cfg, seed + 1, progress)
    return model


def fit_heads(model, split: Split, cfg: TrainingConfig, seed: int, progress: bool = True) -> None:
    """Train the exit heads of `model` on its frozen backbone, every head in the same pass: their
    outputs stacked, one loss (their mean) and one accuracy (theirs over all heads) for all. The
    backbone runs once over the training split (in inference mode: its batch normalization and
    dropout as deployed) and the heads train on what it gave at their inputs; when that would
    take more than FEATURE_CACHE_BYTES, the backbone runs again for each batch instead (its
    batch normalization frozen, its dropout active as in training)."""
    import keras
    from keras import layers

    for layer in model.layers:
        layer.trainable = heads.is_head_layer(layer.name)
    if len(model.outputs) == 1:
        return  # no heads
    names = {layer.name for layer in model.layers}
    chains = [[model.get_layer(n) for n in heads.layers_of(k) if n in names] for k in range(len(model.outputs) - 1)]
    points = {}  # the backbone's tensors the heads read, each once
    for chain in chains:
        points.setdefault(id(chain[0].input), chain[0].input)
    if len(split.train) * sum(4 * int(np.prod(t.shape[1:])) for t in points.values()) <= FEATURE_CACHE_BYTES:
        features = _forward(keras.Model(model.input, list(points.values())), split.train.x)
        sources = {key: keras.Input(t.shape[1:]) for key, t in points.items()}
        inputs, x = list(sources.values()), features if len(points) > 1 else [features]
    else:
        sources, inputs, x = points, model.input, split.train.x
    outputs = []
    for chain in chains:
        t = sources[id(chain[0].input)]
        for layer in chain:  # the model's own layers: training them trains its weights
            t = layer(t)
        outputs.append(layers.Reshape((1, split.num_classes))(t))
    stacked = keras.Model(inputs, layers.Concatenate(axis=1)(outputs) if len(outputs) > 1 else outputs[0])
    _fit(stacked, x, np.repeat(split.train.y[:, None], len(chains), axis=1), cfg, [1.0], seed,
         f"training {len(chains)} heads (frozen backbone)", progress)


def train_cached(entry, split: Split, exit_points, head, cfg: TrainingConfig, seed: int,
                 cache_dir: Path, progress: bool = True):
    """Load the model trained with this configuration and data, or train and cache it."""
    import keras

    cfg = cfg.resolved(entry.pretrained)
    path = Path(cache_dir) / f"{cache_key(entry.name, exit_points, head, cfg, seed, split)}.keras"
    if path.exists():
        return keras.models.load_model(path, compile=False), path
    model = train(entry, split, exit_points, head, cfg, seed, progress)
    save(model, path)
    return model, path


def save(model, path: Path) -> None:
    """A Keras model file written whole or not at all."""
    with atomic.replaced_file(path) as tmp:
        model.save(tmp)


def copy_weights(source, target, renamed: "dict | None" = None) -> None:
    """Weights of `source`'s layers into `target`'s layers of the same name (or renamed[name])."""
    renamed = renamed or {}
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(renamed.get(layer.name, layer.name)).get_weights())


def train_backbone(entry, split: Split, cfg: TrainingConfig, seed: int, progress: bool = True):
    """The zoo backbone alone, trained on the split's training part (no exits)."""
    import keras

    cfg = cfg.resolved(entry.pretrained)
    keras.utils.set_random_seed(seed)
    model = entry.build(entry.input_shape, split.num_classes, None)
    _fit(model, split.train.x, split.train.y, cfg, [1.0], seed, "training backbone", progress)
    return model


def untrained(entry, exit_points, head, num_classes: int, seed: int, x: np.ndarray):
    """Seeded random weights, for code generation and benchmarks when no data is given.

    Each batch normalization takes the mean and variance its input has on `x`, in network
    order, so activations stay in range through deep untrained backbones (without that,
    logits grow so large that an int8 softmax cannot represent its input scale).
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = build_eenn(entry, exit_points, head, num_classes)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            a = _forward(keras.Model(model.input, layer.input), x)
            axes = tuple(range(a.ndim - 1))
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, a.mean(axis=axes), a.var(axis=axes)])
    return model


def predict(model, x: np.ndarray) -> np.ndarray:
    """Float probabilities, shape (exits, samples, classes)."""
    return np.stack(_forward(model, x))


def _forward(model, x: np.ndarray, batch_size: int = 256):
    """The model's outputs on `x`, run eagerly in batches. Keras' `predict` traces a graph
    function per model, and TensorFlow warns about retracing once a few models have run."""
    batches = [model(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    if isinstance(batches[0], (list, tuple)):
        return [np.concatenate([np.asarray(b[k]) for b in batches]) for k in range(len(batches[0]))]
    return np.concatenate([np.asarray(b) for b in batches])

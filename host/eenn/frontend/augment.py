"""A user's trained Keras model as an EENN backbone: where it can be cut, and its model entry.

The model arrives as a .keras (or legacy .h5) file, Sequential or functional, branches and
residual connections included. eenn reads its layer graph and lists the candidate exit points:
layers whose output is the only tensor alive at that point of the network (so a stage ends in
one boundary tensor, as the device's stages need), at the end of a block (not followed by the
normalization or activation that completes it), leaving out no-op layers, global average
pooling (a dense head on the layer before computes the same) and the model's own output. Heads
attach there (eenn.frontend.heads); training mode "heads" trains only them, so the model's own output
is untouched. A model ending in logits gets a softmax on its final exit (argmax unchanged).
"""

import hashlib
from pathlib import Path

from ..errors import EennError
from . import support
from .zoo import ZooEntry

SUFFIXES = (".keras", ".h5")
NO_OP = ("InputLayer", "Flatten", "Reshape", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
         "Identity", "ActivityRegularization")
# A dense head on the layer before computes exactly this (and the converter would merge the two)
SAME_AS_A_HEAD = ("GlobalAveragePooling1D", "GlobalAveragePooling2D")
BLOCK_CONTINUES = ("BatchNormalization", "LayerNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU",
                   "Softmax")
DEFAULT_EXITS = 2


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_container(path: Path) -> None:
    """Refuse, before Keras reads it, a file that cannot be a saved model: a .keras file is a zip
    archive holding config.json (what model.save writes), an .h5 file an HDF5 file."""
    import zipfile

    with open(path, "rb") as f:
        head = f.read(8)
    problem = None
    if path.suffix == ".h5":
        if head != HDF5_SIGNATURE:
            problem = "not an HDF5 file, which a legacy .h5 model is"
    elif not head.startswith(b"PK"):
        problem = "not a zip archive, which model.save() writes" + (" (the file is empty)" if not head else "")
    elif not zipfile.is_zipfile(path):
        problem = "a zip archive cut short (truncated: copy or download it again)"
    else:
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                problem = "a zip archive without config.json, so not one that model.save() wrote"
    if problem:
        raise EennError(f"{path}: not a Keras model file: {problem}")


def load(path: Path):
    """The functional Keras model in a model file (a Sequential one is wrapped as functional)."""
    path = Path(path)
    if path.is_dir():
        raise EennError(f"{path}: a SavedModel directory holds a TensorFlow graph, not Keras layers, so it cannot be "
                        "cut into stages; load the model in Keras and save it with model.save('model.keras')")
    if path.suffix not in SUFFIXES:
        raise EennError(f"{path}: a model file is {' or '.join(SUFFIXES)}")
    if not path.exists():
        raise EennError(f"{path}: no such model file")
    _check_container(path)
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types; the first line says what failed
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EennError(f"{path}: not a loadable Keras model ({first})") from None
    return functional(model, str(path))


def functional(model, source: str):
    """`model` as a functional model with one input and one output, or a clear refusal."""
    import keras
    from keras.src.models.functional import Functional

    if isinstance(model, keras.Sequential):
        try:
            inputs, outputs = model.inputs, model.outputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise EennError(f"{source}: the Sequential model has no input shape; give it a keras.Input first")
        model = keras.Model(inputs[0], outputs[0], name=model.name)
    elif not isinstance(model, Functional):
        raise EennError(f"{source}: '{type(model).__name__}' is a subclassed model, whose call() is Python code "
                        "rather than a graph of layers eenn can cut; rebuild it with the functional API or Sequential")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise EennError(f"{source}: the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                        "an EENN backbone has one of each")
    return model


def _graph(model, source: str) -> list:
    """The model's layer calls in a topological order: (layer, input tensors, output tensor).
    Operations that are not layers (`x + 3.0` on a tensor, as in MobileNetV3) are calls too."""
    order = {id(operation): i for i, operation in enumerate(model.operations)}
    depths = model._nodes_by_depth  # Keras' own graph: a node's depth exceeds its consumers'
    nodes = sorted(((depth, node) for depth, at in depths.items() for node in at),
                   key=lambda item: (-item[0], order[id(item[1].operation)]))
    calls = [(node.operation, list(node.input_tensors), node.output_tensors) for _, node in nodes]
    seen = set()
    for layer, _, outputs in calls:
        if id(layer) in seen:
            raise EennError(f"{source}: layer '{layer.name}' is called more than once; a shared layer cannot be cut")
        if len(outputs) != 1:
            raise EennError(f"{source}: layer '{layer.name}' has {len(outputs)} outputs; "
                            "eenn cuts single-output layers")
        seen.add(id(layer))
    return [(layer, inputs, outputs[0]) for layer, inputs, outputs in calls]


def candidate_points(model, source: str = "model") -> tuple:
    """Names of the layers an exit head can read, in network order."""
    import keras

    calls = _graph(model, source)
    producer = {id(output): i for i, (_, _, output) in enumerate(calls)}
    consumers = {i: [] for i in range(len(calls))}
    for j, (_, inputs, _) in enumerate(calls):
        for tensor in inputs:
            consumers[producer[id(tensor)]].append(j)
    final = producer[id(model.outputs[0])]
    last_use = {i: max(c, default=-1) for i, c in consumers.items()}
    candidates = []
    for i, (layer, _, output) in enumerate(calls):
        alive = [p for p in range(i + 1) if last_use[p] > i]
        kind = type(layer).__name__
        if alive != [i] or i == final or kind in NO_OP + SAME_AS_A_HEAD or len(output.shape) not in (2, 3, 4) or \
                not isinstance(layer, keras.layers.Layer):
            continue
        if any(type(calls[j][0]).__name__ in BLOCK_CONTINUES for j in consumers[i]):
            continue
        candidates.append(layer.name)
    return tuple(candidates)


def ends_in_softmax(model) -> bool:
    import keras

    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if type(last).__name__ == "Softmax":
        return True
    return activation is keras.activations.softmax or getattr(activation, "__name__", "") == "softmax"


def spread(candidates: tuple, count: int = DEFAULT_EXITS) -> tuple:
    """`count` candidates spread evenly over the network (the default exits of a model file)."""
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / (count + 1)
    return tuple(candidates[int(step * (k + 1))] for k in range(count))


def weights_digest(model) -> str:
    """A digest of the architecture and weights (a .keras file's bytes also hold the date it was saved)."""
    h = hashlib.sha256(model.to_json().encode())
    for weight in model.get_weights():
        h.update(str((weight.dtype.str, weight.shape)).encode())
        h.update(weight.tobytes())
    return h.hexdigest()[:12]


def entry(path: Path) -> ZooEntry:
    """A model entry for a model file: its shapes, candidate exits and a builder that clones
    it (weights included) for any batch size."""
    path = Path(path)
    model = load(path)  # checked before Keras is imported
    import keras

    candidates = candidate_points(model, str(path))
    if not candidates:
        raise EennError(f"{path}: no layer where the network narrows to one tensor of rank 2 to 4; "
                        "there is nowhere to attach an exit")
    digest = weights_digest(model)
    input_shape = tuple(model.inputs[0].shape[1:])
    num_classes = int(model.outputs[0].shape[-1])

    def build(shape, classes, batch_size):
        if tuple(shape) != input_shape or classes != num_classes:
            raise EennError(f"{path}: the model takes samples of shape {input_shape} and has {num_classes} classes; "
                            f"the data has shape {tuple(shape)} and {classes} classes")
        clone = keras.models.clone_model(model, input_tensors=keras.Input(input_shape, batch_size=batch_size))
        clone.set_weights(model.get_weights())
        return clone

    support.check(model, build(input_shape, num_classes, 1), str(path))  # before any training: every layer to code

    return ZooEntry(f"{path.name}#{digest}", input_shape, num_classes, None, candidates, spread(candidates), build,
                    f"model file {path}", final_softmax=not ends_in_softmax(model), pretrained=True, digest=digest)

"""Datasets: built-in ones that work offline, user files (.npz, .csv), and the seeded split.

Every loader returns a `Dataset` whose arrays are checked once here, at the boundary:
`x` is float32 of shape (N, *sample_shape), `y` is int64 of shape (N,) in [0, num_classes).
"""

import csv
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EennError
from ..limits import MAX_FEATURE

SPLIT_NAMES = ("train", "calib", "test")


@dataclass(frozen=True)
class Dataset:
    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> "Dataset":
        return Dataset(self.name, self.x[index], self.y[index], self.num_classes)

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.x, self.y):
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class Split:
    """Train / calibration / test. The calibration part is never used for training."""

    train: Dataset
    calib: Dataset
    test: Dataset

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def sample_shape(self) -> tuple:
        return self.train.sample_shape

    def parts(self) -> dict:
        return {"train": self.train, "calib": self.calib, "test": self.test}

    def digest(self) -> str:
        h = hashlib.sha256()
        for name, part in self.parts().items():
            h.update(f"{name}:{part.digest()};".encode())
        return h.hexdigest()


def _checked(source: str, x, y, num_classes=None, x_name="x", y_name="y", complete: bool = True) -> Dataset:
    """Convert and validate one (x, y) pair; errors name `source` and the array. Labels are
    0..C-1 (C: `num_classes`, else the largest label + 1), each class present when `complete`."""
    x = np.asarray(x)
    y = np.asarray(y)
    where = f"{source}: array '{x_name}'"
    if x.dtype.kind not in "biuf":
        raise EennError(f"{where} has dtype {x.dtype}; expected numbers (int or float)")
    if x.ndim < 2:
        raise EennError(f"{where} has rank {x.ndim}; expected (samples, features...) of rank >= 2")
    if x.shape[0] == 0:
        raise EennError(f"{where} is empty; expected at least one sample")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0][0])
        raise EennError(f"{where} contains NaN or inf (first at sample {bad})")
    largest = float(np.max(np.abs(x)))
    if largest > MAX_FEATURE:
        raise EennError(f"{where} holds values up to {largest:.3g}, too wide a range for int8 quantization to keep "
                        f"any resolution; scale the features (to [0, 1] or unit variance) to within ±{MAX_FEATURE:g}")
    where = f"{source}: array '{y_name}'"
    if y.ndim != 1:
        raise EennError(f"{where} has rank {y.ndim}; expected one integer label per sample (rank 1)")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise EennError(f"{where} holds non-integer labels; expected class indices 0..C-1")
    elif y.dtype.kind not in "biu":
        raise EennError(f"{where} has dtype {y.dtype}; expected integer class indices")
    if len(y) != len(x):
        raise EennError(f"{where} has {len(y)} labels for {len(x)} samples in '{x_name}'")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise EennError(f"{where} has label {int(y.min())}; labels must be in 0..C-1")
    if num_classes is None:
        num_classes = int(y.max()) + 1
    if y.max() >= num_classes:
        raise EennError(f"{where} has label {int(y.max())}, out of range for {num_classes} classes")
    if num_classes < 2:
        raise EennError(f"{where} has a single class; a classifier needs at least 2")
    present = np.unique(y)
    if complete and len(present) < num_classes:
        if present[0] > 0 and len(present) == present[-1] - present[0] + 1:
            raise EennError(f"{where} has labels {present[0]}..{present[-1]}; expected 0..C-1 (subtract "
                            f"{present[0]} from every label)")
        missing = sorted(set(range(num_classes)) - set(present.tolist()))
        raise EennError(f"{where} has no sample of class {missing[0]} (labels 0..{num_classes - 1}); labels must "
                        "be 0..C-1 with every class present")
    return Dataset(source, x.astype(np.float32), y, int(num_classes))


def load_digits() -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 samples, shipped in the wheel)."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images / 16.0).reshape(-1, 8, 8, 1)
    return _checked("digits", x, d.target, num_classes=10)


def load_mnist1d(num_samples: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D (signals of length 40, 10 classes), generated procedurally, no download."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    d = make_dataset(args)
    x = np.concatenate([d["x"], d["x_test"]])[..., None]
    y = np.concatenate([d["y"], d["y_test"]])
    return _checked("mnist1d", x, y, num_classes=10)


BUILTIN = {"digits": load_digits, "mnist1d": load_mnist1d}


ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or an empty archive


def check_npz(path: Path) -> None:
    """A clear refusal of a missing or empty file, or one that is not a zip archive, before numpy
    tries it (numpy would call a text file pickled data)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise EennError(f"{path}: no such file") from None
    except OSError as e:
        raise EennError(f"{path}: cannot read it ({e.strerror})") from None
    if not head:
        raise EennError(f"{path}: an empty file; expected an .npz archive of arrays x and y (numpy.savez)")
    if head not in ZIP_SIGNATURES:
        raise EennError(f"{path}: not an .npz archive (numpy.savez writes one: a zip of .npy arrays); for a table "
                        "of numbers use a .csv file")


def load_npz(path: Path) -> "Dataset | Split":
    """Arrays x, y (split later by seed), or pre-split x_train/y_train, x_calib/y_calib, x_test/y_test.

    With only train and test given, the calibration part is carved out of train by the split.
    """
    path = Path(path)
    check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise EennError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise EennError(f"{path}: not a readable .npz file ({e})") from None
    src = str(path)
    if "x" in arrays or "y" in arrays:
        for k in ("x", "y"):
            if k not in arrays:
                raise EennError(f"{src}: missing array '{k}' (found: {', '.join(sorted(arrays))})")
        return _checked(src, arrays["x"], arrays["y"])
    parts = {}
    for name in SPLIT_NAMES:
        xk, yk = f"x_{name}", f"y_{name}"
        if (xk in arrays) != (yk in arrays):
            missing = yk if xk in arrays else xk
            raise EennError(f"{src}: missing array '{missing}'")
        if xk in arrays:
            parts[name] = (arrays[xk], arrays[yk])
    if "train" not in parts or "test" not in parts:
        raise EennError(
            f"{src}: expected arrays 'x' and 'y', or 'x_train', 'y_train', 'x_test', 'y_test' "
            f"(and optionally 'x_calib', 'y_calib'); found: {', '.join(sorted(arrays)) or 'none'}"
        )
    labels = [y for _, y in parts.values() if np.asarray(y).size]
    num_classes = int(max(np.max(y) for y in labels)) + 1 if labels else None
    checked = {name: _checked(src, x, y, num_classes, f"x_{name}", f"y_{name}", complete=name == "train")
               for name, (x, y) in parts.items()}
    shapes = {d.sample_shape for d in checked.values()}
    if len(shapes) > 1:
        raise EennError(f"{src}: splits have different sample shapes {sorted(shapes)}")
    if "calib" in checked:
        return Split(checked["train"], checked["calib"], checked["test"])
    return checked  # train and test only: `split` carves calibration out of train


def load_csv(path: Path, label_column: str = "label", sample_shape=None) -> Dataset:
    """One sample per row: numeric feature columns and an integer label column.

    A time series of fixed length is one row; `sample_shape` reshapes each row's features
    (e.g. (40, 1)).
    """
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise EennError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise EennError(f"{path}: not a readable text CSV file ({e})") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise EennError(f"{path}: empty file; expected a header row and one sample per row")
    header = [c.strip() for c in rows[0]]
    if label_column not in header:
        raise EennError(f"{path}: no column '{label_column}' in the header ({', '.join(header)})")
    label_at = header.index(label_column)
    if len(rows) == 1:
        raise EennError(f"{path}: no data rows after the header")
    values = np.empty((len(rows) - 1, len(header)), dtype=np.float64)
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise EennError(f"{path}: line {i} has {len(row)} columns; the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                values[i - 2, j] = float(cell)
            except ValueError:
                raise EennError(f"{path}: line {i}, column '{header[j]}': '{cell}' is not a number") from None
    x = np.delete(values, label_at, axis=1)
    if sample_shape is not None:
        try:
            x = x.reshape((len(x), *sample_shape))
        except ValueError:
            raise EennError(
                f"{path}: {x.shape[1]} feature columns cannot be reshaped to {tuple(sample_shape)}"
            ) from None
    return _checked(str(path), x, values[:, label_at], x_name="features", y_name=label_column)


def load(source: str, **options) -> "Dataset | Split | dict":
    """A built-in dataset by name, or a user file by path (.npz or .csv)."""
    if source in BUILTIN:
        return BUILTIN[source]()
    path = Path(source)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix == ".csv":
        return load_csv(path, **options)
    if not path.suffix:
        raise EennError(f"unknown dataset '{source}'; built-in: {', '.join(BUILTIN)}, or a .npz/.csv path")
    raise EennError(f"{source}: unsupported file type '{path.suffix}'; expected .npz or .csv")


def check_fractions(calib_fraction: float, test_fraction: float) -> None:
    for name, value in (("calib_fraction", calib_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise EennError(f"data.{name} {value}: must be between 0 and 1 (the share of the samples it takes)")
    if calib_fraction + test_fraction >= 1:
        raise EennError(f"data.calib_fraction {calib_fraction} and data.test_fraction {test_fraction}: the fractions "
                        "sum to 1 or more and leave nothing to train on")


def split(data, seed: int = 0, calib_fraction: float = 0.2, test_fraction: float = 0.2) -> Split:
    """Deterministic, stratified where possible: the same seed always gives the same split."""
    from sklearn.model_selection import train_test_split

    if isinstance(data, Split):
        return data

    def cut(d: Dataset, fraction: float, salt: int):
        idx = np.arange(len(d))
        n_cut = int(round(fraction * len(d)))
        if n_cut < 1 or len(d) - n_cut < 1:
            raise EennError(f"{d.name}: {len(d)} samples are too few to split off {fraction:.0%}")
        counts = np.bincount(d.y, minlength=d.num_classes)
        stratify = d.y if counts[counts > 0].min() >= 2 and n_cut >= np.count_nonzero(counts) else None
        keep, take = train_test_split(idx, test_size=n_cut, random_state=seed + salt, stratify=stratify)
        return d.subset(np.sort(keep)), d.subset(np.sort(take))

    if isinstance(data, dict):  # pre-split train and test: carve calibration out of train
        train, calib = cut(data["train"], calib_fraction, 1)
        return Split(train, calib, data["test"])
    check_fractions(calib_fraction, test_fraction)
    rest, test = cut(data, test_fraction, 0)
    train, calib = cut(rest, calib_fraction / (1 - test_fraction), 1)
    return Split(train, calib, test)

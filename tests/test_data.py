import numpy as np
import pytest

from eenn.errors import EennError
from eenn.frontend import data


def test_digits_is_offline_and_well_formed():
    d = data.load("digits")
    assert d.x.shape == (1797, 8, 8, 1) and d.x.dtype == np.float32
    assert d.y.dtype == np.int64 and d.num_classes == 10
    assert 0 <= d.x.min() and d.x.max() <= 1


def test_mnist1d_is_generated_without_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = data.load_mnist1d(num_samples=200)
    assert d.x.shape == (200, 40, 1) and d.num_classes == 10
    assert list(tmp_path.iterdir()) == []  # nothing fetched or pickled into the working directory


def test_split_is_deterministic_disjoint_and_complete():
    d = data.load("digits")
    a, b = data.split(d, seed=3), data.split(d, seed=3)
    assert a.digest() == b.digest()
    assert data.split(d, seed=4).digest() != a.digest()
    sizes = [len(p) for p in a.parts().values()]
    assert sum(sizes) == len(d) and sizes == [1078, 360, 359]
    rows = [{r.tobytes() for r in p.x} for p in a.parts().values()]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2])


def test_split_is_stratified():
    s = data.split(data.load("digits"), seed=0)
    assert set(np.unique(s.calib.y)) == set(range(10))
    assert set(np.unique(s.test.y)) == set(range(10))


def _npz(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


def test_npz_xy(tmp_path, rng):
    path = _npz(tmp_path, x=rng.random((50, 6, 1)), y=np.arange(50) % 3)
    d = data.load(str(path))
    assert d.x.shape == (50, 6, 1) and d.num_classes == 3


def test_npz_presplit_keeps_given_parts(tmp_path, rng):
    parts = {f"{k}_{s}": None for k in "xy" for s in ("train", "calib", "test")}
    for s, n in (("train", 30), ("calib", 10), ("test", 12)):
        parts[f"x_{s}"] = rng.random((n, 4))
        parts[f"y_{s}"] = np.arange(n) % 4
    s = data.split(data.load(str(_npz(tmp_path, **parts))), seed=0)
    assert (len(s.train), len(s.calib), len(s.test)) == (30, 10, 12)
    np.testing.assert_array_equal(s.test.x, parts["x_test"].astype(np.float32))


def test_npz_train_test_only_carves_calibration_from_train(tmp_path, rng):
    path = _npz(tmp_path, x_train=rng.random((40, 4)), y_train=np.arange(40) % 2,
                x_test=rng.random((10, 4)), y_test=np.arange(10) % 2)
    s = data.split(data.load(str(path)), seed=0, calib_fraction=0.25)
    assert (len(s.train), len(s.calib), len(s.test)) == (30, 10, 10)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 2))}, "missing array 'y'"),
    ({"x": np.zeros(4), "y": np.zeros(4, int)}, "array 'x' has rank 1"),
    ({"x": np.zeros((4, 2)), "y": np.zeros((4, 1), int)}, "array 'y' has rank 2"),
    ({"x": np.zeros((4, 2)), "y": np.array([0, 1, -1, 0])}, "label -1"),
    ({"x": np.zeros((4, 2)), "y": np.array([0.5, 1, 0, 1])}, "non-integer labels"),
    ({"x": np.array([[0, np.nan]] * 4), "y": np.array([0, 1, 0, 1])}, "NaN or inf"),
    ({"x": np.zeros((0, 2)), "y": np.zeros(0, int)}, "is empty"),
    ({"x": np.array([["a", "b"]] * 4), "y": np.array([0, 1, 0, 1])}, "dtype <U1"),
    ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 0])}, "3 labels for 4 samples"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.array([0, 1, 0, 1])}, "expected arrays 'x' and 'y'"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.array([0, 1, 0, 1]), "x_test": np.zeros((2, 2))},
     "missing array 'y_test'"),
])
def test_npz_errors_name_file_and_array(tmp_path, arrays, message):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(EennError, match=message) as e:
        data.load(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_npz_split_with_different_shapes(tmp_path):
    path = _npz(tmp_path, x_train=np.zeros((4, 2)), y_train=np.array([0, 1, 0, 1]),
                x_test=np.zeros((4, 3)), y_test=np.array([0, 1, 0, 1]))
    with pytest.raises(EennError, match="different sample shapes"):
        data.load(str(path))


def test_not_an_npz(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_text("hello")
    with pytest.raises(EennError, match="not an .npz archive"):
        data.load(str(path))


def test_csv_rows_with_label_and_reshape(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["a,b,label,c,d"] + [f"{i},{i+1},{i % 2},{i+2},{i+3}" for i in range(10)]
    path.write_text("\n".join(rows) + "\n")
    d = data.load(str(path), sample_shape=(2, 2))
    assert d.x.shape == (10, 2, 2) and d.num_classes == 2
    np.testing.assert_array_equal(d.x[3].ravel(), [3, 4, 5, 6])


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("a,b\n1,2\n", "no column 'label'"),
    ("a,label\n", "no data rows"),
    ("a,label\n1,0\n2\n", "line 3 has 1 columns"),
    ("a,label\n1,0\nx,1\n", "line 3, column 'a': 'x' is not a number"),
    ("a,label\nnan,0\n1,1\n", "NaN or inf"),
    ("a,label\n1,0\n2,1.5\n", "non-integer labels"),
])
def test_csv_errors(tmp_path, text, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(EennError, match=message):
        data.load(str(path))


def test_unknown_source():
    with pytest.raises(EennError, match="unknown dataset 'cifar'"):
        data.load("cifar")
    with pytest.raises(EennError, match="unsupported file type '.txt'"):
        data.load("x.txt")
    with pytest.raises(EennError, match="no such file"):
        data.load("missing.npz")


def test_too_few_samples_to_split():
    d = data.Dataset("tiny", np.zeros((2, 3), np.float32), np.array([0, 1]), 2)
    with pytest.raises(EennError, match="too few"):
        data.split(d)

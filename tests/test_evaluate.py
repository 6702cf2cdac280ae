import numpy as np
import pytest
from hypothesis import given, strategies as st

from eenn.decision import mechanisms
from eenn.decision.mechanisms import DecisionSpec
from eenn.errors import EennError
from eenn.tflite.flatbuffer import Quantization
from eenn.tflite.reference import Records

SOFTMAX_Q = Quantization((1 / 256,), (-128,))


@pytest.mark.parametrize("p, level", [(0.0, -128), (0.5, 0), (0.9, 103), (1.0, 128), (127 / 256 + 0.5, 127)])
def test_level_for_probability(p, level):
    assert mechanisms.level_for_probability(p, 1 / 256, -128) == level


@given(st.floats(0, 1))
def test_level_is_the_smallest_reaching_p(p):
    q = mechanisms.level_for_probability(p, 1 / 256, -128)
    if q <= 127:
        assert (q + 128) / 256 >= p - 1e-9
    if q > -128:
        assert (q - 1 + 128) / 256 < p


def test_thresholds_shared_or_per_exit():
    from eenn.project import DecisionConfig

    assert mechanisms.spec_for(DecisionConfig(threshold=0.5), [SOFTMAX_Q] * 2).thresholds == (0, 0)
    assert mechanisms.spec_for(DecisionConfig(threshold=(0.5, 1.0)), [SOFTMAX_Q] * 2).thresholds == (0, 128)
    assert mechanisms.spec_for(DecisionConfig("margin", 0.25), [SOFTMAX_Q]).thresholds == (64,)
    assert mechanisms.spec_for(DecisionConfig("entropy", 0.5), [SOFTMAX_Q]).thresholds == (32768,)
    with pytest.raises(EennError, match="3 thresholds given for 2"):
        mechanisms.spec_for(DecisionConfig(threshold=(0.1, 0.2, 0.3)), [SOFTMAX_Q] * 2)
    with pytest.raises(EennError, match="not a probability"):
        mechanisms.spec_for(DecisionConfig(threshold=1.5), [SOFTMAX_Q])


def _records():
    probs = np.full((4, 3, 2), -128, np.int8)
    probs[0, 0] = [100, -100]   # confident at exit 0
    probs[1, 0] = [10, -10]     # not at 0 ...
    probs[1, 1] = [-120, 110]   # ... but at 1
    probs[2, :2] = [[0, 0], [5, 6]]  # never confident: final
    probs[2, 2] = [1, 127]
    probs[3, 0] = [50, 50]      # tie at threshold: lowest class
    return Records(probs, np.array([0, 1, 1, 0]))


def test_exit_taken_and_evaluation():
    r = _records()
    spec = DecisionSpec("confidence", (50, 100))
    exits, classes = mechanisms.simulate(spec, r.probs)
    np.testing.assert_array_equal(exits, [0, 1, 2, 0])
    np.testing.assert_array_equal(classes, [0, 1, 1, 0])
    result = mechanisms.evaluate(r, spec, [10, 30, 100], 80)
    assert result["exit_histogram"] == [2, 1, 1]
    assert result["accuracy"] == 1.0
    assert result["mean_macs"] == pytest.approx((10 + 30 + 100 + 10) / 4)
    assert result["mean_macs_relative"] == pytest.approx(result["mean_macs"] / 80)


def test_threshold_128_never_exits_early():
    r = _records()
    assert set(mechanisms.simulate(DecisionSpec("confidence", (128, 128)), r.probs)[0]) == {2}


def test_unlabelled_records_have_no_accuracy():
    r = _records()
    r = Records(r.probs, np.full(4, -1))
    assert mechanisms.evaluate(r, DecisionSpec("confidence", (0, 0)), [1, 2, 3], 3)["accuracy"] is None


def test_records_round_trip(tmp_path):
    r = _records()
    r.save(tmp_path / "r.npz")
    back = Records.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.probs, r.probs)
    np.testing.assert_array_equal(back.labels, r.labels)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(EennError, match="not a records file"):
        Records.load(tmp_path / "bad.npz")

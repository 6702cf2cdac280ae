"""Per-sample risks of exiting early, on hand-made int8 records."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eenn.decision import risks
from eenn.errors import EennError
from eenn.tflite.flatbuffer import Quantization
from eenn.tflite.reference import Records

SOFTMAX = Quantization((1 / 256,), (-128,))


def _records(probs, labels):
    return Records(np.array(probs, np.int8), np.array(labels, np.int64))


# Two samples, two exits, three classes. Sample 0: the early exit answers 0, the final 1 (label 1).
# Sample 1: both answer 2 (label 0).
RECORDS = _records([[[127, -128, -128], [-128, 127, -128]],
                    [[-128, -128, 127], [-128, -128, 127]]], [1, 0])


@pytest.mark.parametrize("name, expected", [
    ("consistency", [1, 0]),
    ("prediction-gap", [1, 0]),       # early wrong, final right; both wrong
    ("brier-gap", [2, 0]),            # outputs normalize to one-hots: (1-0)^2 + (0-1)^2 against 0
    ("brier-consistency", [2, 0]),
    ("hellinger", [1.0, 0.0]),
])
def test_each_risk_on_a_disagreement_and_an_agreement(name, expected):
    loss = risks.losses(risks.get(name), RECORDS, [SOFTMAX] * 2)
    np.testing.assert_allclose(loss[:, 0], expected, atol=1e-9)
    np.testing.assert_array_equal(loss[:, 1], 0)


def test_prediction_gap_goes_negative_when_the_early_exit_is_right():
    records = _records([[[127, -128], [-128, 127]]], [0])
    gap = risks.get("prediction-gap")
    assert risks.losses(gap, records, [SOFTMAX] * 2)[0, 0] == -1
    assert risks.losses(gap, records, [SOFTMAX] * 2, clip=True)[0, 0] == 0


@settings(max_examples=50, deadline=None)
@given(probs=arrays(np.int8, (8, 3, 4)), labels=arrays(np.int64, 8, elements=st.integers(0, 3)))
def test_every_risk_stays_within_its_bounds(probs, labels):
    records = Records(probs, labels)
    for risk in risks.RISKS.values():
        for clip in (False, True):
            loss = risks.losses(risk, records, [SOFTMAX] * 3, clip)
            low, high = risk.bounds(clip)
            assert np.all(loss >= low - 1e-12) and np.all(loss <= high + 1e-12)
            np.testing.assert_array_equal(loss[:, -1], 0)


def test_label_risks_need_labels():
    unlabelled = _records([[[127, -128], [-128, 127]]], [-1])
    with pytest.raises(EennError, match="'prediction-gap' needs labels"):
        risks.losses(risks.get("prediction-gap"), unlabelled, [SOFTMAX] * 2)
    assert risks.losses(risks.get("consistency"), unlabelled, [SOFTMAX] * 2)[0, 0] == 1


def test_class_losses_score_answered_classes_and_refuse_distribution_risks():
    consistency = risks.get("consistency")
    np.testing.assert_array_equal(risks.class_losses(consistency, np.array([1, 2]), np.array([1, 3]), np.array([0, 0])),
                                  [0, 1])
    with pytest.raises(EennError, match="compares distributions"):
        risks.class_losses(risks.get("hellinger"), np.array([1]), np.array([1]), np.array([0]))
    with pytest.raises(EennError, match="'variance' is not one of"):
        risks.get("variance")

"""Full-int8 conversion of a whole multi-exit Keras model, in one calibration.

The model is rebuilt with a fixed batch size of 1 (so Flatten stays one RESHAPE), its
weights copied, and converted with int8 input and outputs; ops TFLM lacks are rewritten into
ones it has (eenn.tflite.rewrite).
"""

import contextlib
import io
import warnings

import numpy as np

from ..errors import EennError
from ..tflite import rewrite
from ..util.capture import native_output

REPRESENTATIVE_SAMPLES = 300


def to_int8_tflite(model, batch1_model, representative_x: np.ndarray) -> bytes:
    """`batch1_model` is `model`'s architecture with batch size 1; it receives `model`'s weights."""
    import tensorflow as tf

    batch1_model.set_weights(model.get_weights())
    samples = representative_x[:REPRESENTATIVE_SAMPLES].astype(np.float32)
    if len(samples) == 0:
        raise EennError("no samples to calibrate the int8 quantization with")
    converter = tf.lite.TFLiteConverter.from_keras_model(batch1_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with _converter_quiet():
        try:
            converted = bytes(converter.convert())
        except Exception as e:  # the converter raises many types; its first line says what failed
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EennError(f"int8 conversion failed: {first}") from None
    return rewrite.tiles_as_broadcasts(converted)


@contextlib.contextmanager
def _converter_quiet():
    """The converter prints an export summary (Python) and notices (C++) that are not the user's."""
    with native_output(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float samples to the int8 input the first stage (and the device) takes."""
    q = np.round(np.asarray(x, np.float64) / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)

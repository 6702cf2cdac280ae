"""Reading and writing .tflite flatbuffers through the schema module shipped with tflite-micro.

Only the object API (ModelT and friends) is used: no hand-written parsing.
"""

from dataclasses import dataclass

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from ..errors import EennError


def enum_names(enum_class) -> dict:
    """Value -> name of one of the schema's enums (BuiltinOperator, Padding, ...)."""
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


OP_NAMES = enum_names(schema.BuiltinOperator)
TYPE_NAMES = enum_names(schema.TensorType)
NUMPY_TYPES = {schema.TensorType.INT8: np.int8, schema.TensorType.INT32: np.int32,
               schema.TensorType.UINT8: np.uint8, schema.TensorType.INT16: np.int16,
               schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT64: np.int64}
FILE_IDENTIFIER = b"TFL3"


def read(buf: bytes) -> "schema.ModelT":
    if len(buf) < 8 or buf[4:8] != FILE_IDENTIFIER:
        raise EennError("not a TFLite flatbuffer (missing the TFL3 identifier)")
    return schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)


def write(model: "schema.ModelT") -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def op_name(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    # Builtin codes past 127 live in builtinCode; deprecatedBuiltinCode keeps the small ones.
    return OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), f"op{code.builtinCode}")


def tensor_name(tensor) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def is_constant(model, tensor) -> bool:
    buf = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    return buf is not None and buf.data is not None and len(buf.data) > 0


@dataclass(frozen=True)
class Quantization:
    """Per-tensor (one scale) or per-channel (several, along `axis`) affine int8 quantization."""

    scale: tuple
    zero_point: tuple
    axis: int = 0

    def as_dict(self) -> dict:
        return {"scale": list(self.scale), "zero_point": list(self.zero_point), "axis": self.axis}

    @classmethod
    def from_dict(cls, d: dict) -> "Quantization":
        return cls(tuple(d["scale"]), tuple(d["zero_point"]), d.get("axis", 0))


def quantization(tensor) -> "Quantization | None":
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    return Quantization(tuple(float(s) for s in q.scale), tuple(int(z) for z in q.zeroPoint), int(q.quantizedDimension))


def shape(tensor) -> tuple:
    return tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()


def signature_outputs(model) -> dict:
    """Output name -> tensor index, from the first signature (the converter's serving_default)."""
    if not model.signatureDefs:
        return {}
    sig = model.signatureDefs[0]
    return {(t.name.decode() if isinstance(t.name, bytes) else t.name): t.tensorIndex for t in sig.outputs}

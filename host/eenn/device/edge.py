"""The edge host of a split EENN (`eenn edge`): it answers the device's offloads.

An offload carries the int8 boundary tensor of a sample none of the device's exits let leave.
The edge runs the remaining stages on it under the TFLM interpreter, the same int8 numerics
as the device and the host simulator, and answers with every remaining exit's probabilities;
the device's own exit decision reads them as if it had run those stages, so the exit taken,
and the decision's state across samples, stay those of the unsplit network.
"""

import struct

import numpy as np

from ..protocol import OFFLOAD_FIELDS
from .link import LinkError, edge_answer


class EdgeRuntime:
    def __init__(self, build):
        """The edge host of `build` (an artifact.Build)."""
        self.model_digest = build.manifest.model_digest
        self.input_shapes = [s.input.shape for s in build.manifest.stages]
        self.chain = build.stage_chain()

    def answer(self, body: bytes) -> bytes:
        """The answer frame to an offload frame's payload."""
        fixed = struct.calcsize(OFFLOAD_FIELDS)
        if len(body) < fixed:
            raise LinkError(f"an offload of {len(body)} bytes is too short")
        sequence, _, first = struct.unpack_from(OFFLOAD_FIELDS, body)
        if not 1 <= first < len(self.input_shapes):
            raise LinkError(f"an offload for stage {first}; the model has stages 0 to {len(self.input_shapes) - 1}")
        shape = self.input_shapes[first]
        boundary = np.frombuffer(body, np.int8, offset=fixed)
        if boundary.size != np.prod(shape):
            raise LinkError(f"an offload of {boundary.size} bytes for stage {first}, which takes {np.prod(shape)}")
        probs, current = [], boundary.reshape(shape)
        for k in range(first, len(self.input_shapes)):
            exit_probs, current = self.chain.run_stage(k, current)
            probs.append(exit_probs)
        return edge_answer(sequence, first, np.stack(probs))

"""Constant arrays in the order the kernels read them (eenn_kernels.h)."""

import numpy as np

from ._base import ConstArray


def column_bytes(n: int) -> int:
    """n values padded to a multiple of 4 (the length of a paired row)."""
    return -(-n // 4) * 4


def paired_rows(weights: np.ndarray) -> tuple:
    """Weights [rows][n]: rows in pairs, each row padded with zeros to a multiple of 4, and a
    pair's two rows interleaved four values at a time; a last row without a pair follows on
    its own."""
    rows, n = weights.shape
    padded = np.zeros((rows, column_bytes(n)), np.int8)
    padded[:, :n] = weights
    groups = padded.shape[1] // 4
    blocks = padded.reshape(rows, groups, 4)
    pairs = blocks[:rows // 2 * 2].reshape(rows // 2, 2, groups, 4).transpose(0, 2, 1, 3).reshape(-1)
    return tuple(int(v) for v in np.concatenate([pairs, blocks[rows // 2 * 2:].reshape(-1)]))


def folded_bias(bias: ConstArray, weights: np.ndarray, input_offset: int) -> ConstArray:
    """Per row of `weights` [rows][n], its bias plus input_offset times the row's sum, as int32
    arithmetic wraps: a kernel then adds up weight times input, the input offset left out, and
    gets TFLM's sum of weight times (input + offset) exactly. A padded tap holds the input zero
    point, -input_offset, and still adds nothing."""
    sums = weights.astype(np.int64).sum(axis=1) * input_offset + np.asarray(bias.values, np.int64)
    wrapped = (sums + (1 << 31)) % (1 << 32) - (1 << 31)
    return ConstArray(bias.name, bias.ctype, tuple(int(v) for v in wrapped))


def channel_groups(weights: np.ndarray) -> tuple:
    """Depthwise weights [k_h][k_w][channels], widened to 16 bits: channels in groups of four,
    each group's taps in a row, a tap's four weights in lane order (channels 0, 2, 1, 3); then
    the last channels (fewer than four), tap by tap."""
    taps = weights.reshape(-1, weights.shape[-1])
    whole = taps.shape[1] // 4 * 4
    groups = taps[:, :whole].reshape(len(taps), -1, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)
    return tuple(int(v) for v in np.concatenate([groups.reshape(-1), taps[:, whole:].reshape(-1)]))


def requant_records(multipliers, shifts) -> ConstArray:
    """Per output channel six words: multiplier, shift, and for a right shift r (shift < 0)
    the rounding constants 2^30 + 2^(30 + r) and that less 2^31, each as low and high word,
    that eenn_output adds for an accumulator >= 0 and < 0 (eenn_fixedpoint.h); zeros otherwise."""
    values = []
    for m, s in zip(multipliers, shifts):
        values += [int(m), int(s)]
        for rounding in ((1 << 30) + (1 << (30 - s)), (1 << 30) + (1 << (30 - s)) - (1 << 31)) if s < 0 else (0, 0):
            low = rounding & 0xFFFFFFFF
            values += [low - (1 << 32) if low >= 1 << 31 else low, rounding >> 32]
    return ConstArray("requant", "int32_t", tuple(values))

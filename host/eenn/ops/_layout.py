"""Constant arrays in the order the kernels read them (eenn_kernels.h): for the portable and
DSP kernels, and in layouts of their own for the Helium kernels (eenn_mve.h) and the Armv6-M
kernels (eenn_armv6m.h), ConstArray.layouts."""

import numpy as np

from ._base import ConstArray

# The channels of a block of sixteen in the order a Helium depthwise kernel's four accumulators
# hold them (16-bit products of even and odd lanes, each widened from its even and odd lanes).
DEPTHWISE_LANES = (0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15)


def column_bytes(n: int) -> int:
    """n values padded to a multiple of 4 (the length of a paired row)."""
    return -(-n // 4) * 4


def _values(array: np.ndarray) -> tuple:
    return tuple(int(v) for v in np.asarray(array).reshape(-1))


def _paired_rows(weights: np.ndarray) -> tuple:
    """Weights [rows][n]: rows in pairs, each row padded with zeros to a multiple of 4, and a
    pair's two rows interleaved four values at a time; a last row without a pair follows on
    its own."""
    rows, n = weights.shape
    padded = np.zeros((rows, column_bytes(n)), np.int8)
    padded[:, :n] = weights
    groups = padded.shape[1] // 4
    blocks = padded.reshape(rows, groups, 4)
    pairs = blocks[:rows // 2 * 2].reshape(rows // 2, 2, groups, 4).transpose(0, 2, 1, 3).reshape(-1)
    return _values(np.concatenate([pairs, blocks[rows // 2 * 2:].reshape(-1)]))


def _row_blocks(weights: np.ndarray) -> tuple:
    """Weights [rows][n]: rows padded with zeros to a multiple of 16 values and, with rows of
    zeros, to a multiple of 4 rows; in blocks of four rows interleaved sixteen values at a time."""
    rows, n = weights.shape
    chunks, blocks = -(-n // 16), -(-rows // 4)
    padded = np.zeros((blocks * 4, chunks * 16), np.int8)
    padded[:rows, :n] = weights
    return _values(padded.reshape(blocks, 4, chunks, 16).transpose(0, 2, 1, 3))


def _unsigned_blocks(weights: np.ndarray) -> tuple:
    """Weights [rows][n] as unsigned bytes w + 128 (an int8 of the same bits): rows padded with
    zeros to a multiple of 4 values and, with rows of zeros, to a multiple of 4 rows; in blocks
    of four rows interleaved four values at a time."""
    rows, n = weights.shape
    groups, blocks = -(-n // 4), -(-rows // 4)
    padded = np.zeros((blocks * 4, groups * 4), np.int64)
    padded[:rows, :n] = weights.astype(np.int64) + 128
    stored = padded.reshape(blocks, 4, groups, 4).transpose(0, 2, 1, 3)
    return _values(np.where(stored >= 128, stored - 256, stored))


def _folded(bias: np.ndarray, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """Per row of `weights` [rows][n], its bias plus input_offset times the row's sum, as int32
    arithmetic wraps: a kernel then adds up weight times input, the input offset left out, and
    gets TFLM's sum of weight times (input + offset) exactly. A padded tap holds the input zero
    point, -input_offset, and still adds nothing."""
    sums = weights.astype(np.int64).sum(axis=1) * input_offset + bias.astype(np.int64)
    return (sums + (1 << 31)) % (1 << 32) - (1 << 31)


def _lanes(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per-channel values in the lane order `order`, completed with zeros to a multiple of 4."""
    out = np.zeros(column_bytes(len(order)), np.int64)
    out[:len(order)] = values[order]
    return out


def _requant_records(multipliers, shifts) -> tuple:
    """Per output channel six words: multiplier, shift, and for a right shift r (shift < 0)
    the rounding constants 2^30 + 2^(30 + r) and that less 2^31, each as low and high word,
    that eenn_output adds for an accumulator >= 0 and < 0 (eenn_fixedpoint.h); zeros otherwise."""
    values = []
    for m, s in zip(multipliers, shifts):
        values += [int(m), int(s)]
        for rounding in ((1 << 30) + (1 << (30 - s)), (1 << 30) + (1 << (30 - s)) - (1 << 31)) if s < 0 else (0, 0):
            low = rounding & 0xFFFFFFFF
            values += [low - (1 << 32) if low >= 1 << 31 else low, rounding >> 32]
    return tuple(values)


def _helium_requant(multipliers, shifts, order: np.ndarray) -> tuple:
    """Per group of four lanes (channels in `order`; a last group completed with multipliers
    of 0): the four multipliers, the four left shifts, then minus the four right shifts."""
    m, s = np.asarray(multipliers, np.int64), np.asarray(shifts, np.int64)
    columns = [_lanes(m, order), _lanes(np.maximum(s, 0), order), _lanes(np.minimum(s, 0), order)]
    return _values(np.stack([c.reshape(-1, 4) for c in columns], axis=1))


def _array(name: str, ctype: str, values: tuple, **layouts: ConstArray) -> ConstArray:
    """A constant, with its layout for each kernel path in `layouts` where that differs."""
    return ConstArray(name, ctype, values, tuple((path, layout) for path, layout in layouts.items()
                                                 if (layout.ctype, layout.values) != (ctype, values)))


def requant_records(multipliers, shifts) -> ConstArray:
    """The requantization of each output channel, as eenn_output reads it."""
    return ConstArray("requant", "int32_t", _requant_records(multipliers, shifts))


def _requant(multipliers, shifts, order: np.ndarray) -> ConstArray:
    """Per channel records, and for the Helium kernels groups of four lanes in `order`."""
    return _array("requant", "int32_t", _requant_records(multipliers, shifts),
                  mve=ConstArray("requant", "int32_t", _helium_requant(multipliers, shifts, order)))


def _bias(bias: ConstArray, values, **layouts) -> ConstArray:
    """A bias of `values`, and for each kernel path in `layouts` its values."""
    return _array(bias.name, bias.ctype, _values(values),
                  **{path: ConstArray(bias.name, bias.ctype, _values(v)) for path, v in layouts.items()})


def row_layer(weights: np.ndarray, bias: ConstArray, input_offset: int, multipliers, shifts) -> tuple:
    """The weights, bias and requantization of a convolution or fully connected layer, weights
    [rows][n]: paired rows and a folded bias, per channel records; for the Helium kernels row
    blocks, the bias and requantization of each block's four rows together; for the Armv6-M
    kernels unsigned blocks and the bias folded for them (they add up (w + 128) (x + 128) and
    take away 128 times the input's sum: the bias holds (input_offset - 128) times the row's
    sum)."""
    folded = _folded(np.asarray(bias.values), weights, input_offset)
    order = np.arange(len(weights))
    return (_array("weights", "int8_t", _paired_rows(weights),
                   mve=ConstArray("weights", "int8_t", _row_blocks(weights)),
                   armv6m=ConstArray("weights", "int8_t", _unsigned_blocks(weights))),
            _bias(bias, folded, mve=_lanes(folded, order),
                  armv6m=_folded(np.asarray(bias.values), weights, input_offset - 128)),
            _requant(multipliers, shifts, order))


def depthwise_lanes(channels: int, multiplier: int) -> np.ndarray:
    """The order in which a Helium depthwise kernel requantizes its channels: blocks of sixteen
    in DEPTHWISE_LANES order, then the last channels as they are (all as they are with a depth
    multiplier other than 1)."""
    blocks = channels // 16 if multiplier == 1 else 0
    first = (np.arange(blocks)[:, None] * 16 + np.asarray(DEPTHWISE_LANES)).reshape(-1)
    return np.concatenate([first, np.arange(blocks * 16, channels)]).astype(np.int64)


def depthwise_layer(weights: np.ndarray, bias: ConstArray, input_offset: int, multipliers, shifts,
                    depth_multiplier: int) -> tuple:
    """The weights, bias and requantization of a depthwise convolution, weights [k_h][k_w][channels].
    Portable and DSP kernels: weights widened to 16 bits, channels in groups of four, each
    group's taps in a row, a tap's four weights in lane order (channels 0, 2, 1, 3), then the
    last channels (fewer than four) tap by tap; the bias as it is; per channel records. Helium
    kernels: int8 weights, per block of sixteen channels tap after tap, then the last channels
    tap after tap (all of them so with a depth multiplier other than 1); the bias folded with
    them (a tap in the padding counts as the input zero point) and the requantization, in their
    lane order."""
    taps = weights.reshape(-1, weights.shape[-1])
    whole = taps.shape[1] // 4 * 4
    groups = taps[:, :whole].reshape(len(taps), -1, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)
    wide = np.concatenate([groups.reshape(-1), taps[:, whole:].reshape(-1)])
    order = depthwise_lanes(taps.shape[1], depth_multiplier)
    folded = _folded(np.asarray(bias.values), taps.T, input_offset)
    blocks = taps.shape[1] // 16 if depth_multiplier == 1 else 0
    sixteens = taps[:, :16 * blocks].reshape(len(taps), blocks, 16).transpose(1, 0, 2)
    helium = np.concatenate([sixteens.reshape(-1), taps[:, 16 * blocks:].reshape(-1)])
    return (_array("weights", "int16_t", _values(wide), mve=ConstArray("weights", "int8_t", _values(helium))),
            _bias(bias, bias.values, mve=_lanes(folded, order)), _requant(multipliers, shifts, order))

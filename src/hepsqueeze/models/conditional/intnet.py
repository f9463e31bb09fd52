"""Integer (fixed-point) inference of a small multilayer perceptron, bit-identical on every machine.

The probabilities an entropy coder uses must be the same at the encoder and the decoder, whatever
the CPU, the thread count, the BLAS or the GPU. Floating-point sums taken in another order give
other bits, so the networks that feed the coder's tables run on integers only:

- inputs are integers with ``|a| <= INPUT_MAX``, hidden activations integers in ``[0, HIDDEN_MAX]``,
  weights int8 (``|w| <= WEIGHT_MAX``), biases and requantisation multipliers int64;
- a layer's products are summed by an ordinary float32 matrix product. Every operand is a small
  integer and every partial sum stays below ``2**24`` (checked from the fan-in when a network is
  built), so each sum is exact in float32 in any order: BLAS may block, thread or fuse (FMA) as it
  likes and the result is the same integer. numpy and torch give the same bits;
- a hidden layer's integer sum plus its bias is requantised with an integer multiplier and a shift,
  rounded half up, and clipped to ``[0, HIDDEN_MAX]`` (a ReLU); the output layer's sums are
  returned as integers, which the caller scales.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ModelError

#: Largest |input| of a network (fixed point: the caller's units).
INPUT_MAX: Final = 1023
#: Largest hidden activation (a ReLU clipped to [0, HIDDEN_MAX]).
HIDDEN_MAX: Final = 127
#: Largest |weight| (int8).
WEIGHT_MAX: Final = 127
#: Requantisation shift: a hidden value is ``(sum * multiplier + 2**(SHIFT - 1)) >> SHIFT``.
SHIFT: Final = 24
#: Largest requantisation multiplier (keeps ``sum * multiplier`` inside int64).
MAX_MULTIPLIER: Final = 1 << 31
#: Largest |bias| (keeps sums inside int64 with room to spare).
MAX_BIAS: Final = 1 << 40
#: Every partial sum of a float32 matrix product stays below this, so each is exact.
EXACT_SUM: Final = 1 << 24
#: Rows per matrix product (bounds the float32 copies of a block of inputs).
BLOCK_ROWS: Final = 1 << 16

Backend = Literal["numpy", "torch"]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class IntLayer:
    """One fully connected layer: ``weight`` int8 ``(out, in)``, ``bias`` int64 ``(out,)``;
    ``multiplier`` (int64 ``(out,)``) requantises a hidden layer's sums, ``None`` for the output
    layer. ``input_max``: the largest |input| the layer is fed."""

    weight: npt.NDArray[np.int8]
    bias: I64
    multiplier: I64 | None
    input_max: int

    def __post_init__(self) -> None:
        w, b, m = self.weight, self.bias, self.multiplier
        if w.dtype != np.int8 or w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
            raise ModelError(f"a layer's weight must be a non-empty 2-d int8 array, got {w.dtype} {w.shape}")
        if bool((w == -128).any()):
            raise ModelError(f"a layer's weights must lie in [-{WEIGHT_MAX}, {WEIGHT_MAX}]")
        if b.dtype != np.int64 or b.shape != (w.shape[0],) or bool((np.abs(b) > MAX_BIAS).any()):
            raise ModelError(f"a layer's bias must be int64 of shape ({w.shape[0]},) within +-2^40")
        if m is not None and (
            m.dtype != np.int64 or m.shape != (w.shape[0],) or bool(((m < 0) | (m >= MAX_MULTIPLIER)).any())
        ):
            raise ModelError(f"a layer's multipliers must be int64 of shape ({w.shape[0]},) in [0, 2^31)")
        if not 0 < self.input_max <= INPUT_MAX:
            raise ModelError(f"a layer's input range must lie in (0, {INPUT_MAX}], got {self.input_max}")
        if w.shape[1] * WEIGHT_MAX * self.input_max >= EXACT_SUM:
            raise ModelError(
                f"a layer of fan-in {w.shape[1]} fed values up to {self.input_max} could sum past 2^24 "
                "(float32 sums would no longer be exact)"
            )

    @property
    def fan_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def width(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True, eq=False)
class IntMLP:
    """Hidden layers (requantised ReLUs) then one output layer (integer sums)."""

    layers: tuple[IntLayer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise ModelError("a network needs at least one layer")
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            if (layer.multiplier is None) != last:
                raise ModelError("every hidden layer (and only they) must have requantisation multipliers")
            if i and layer.fan_in != self.layers[i - 1].width:
                raise ModelError(
                    f"layer {i} takes {layer.fan_in} inputs, the layer before gives {self.layers[i - 1].width}"
                )
            if i and layer.input_max != HIDDEN_MAX:
                raise ModelError(f"layer {i} must take hidden values up to {HIDDEN_MAX}")

    @property
    def fan_in(self) -> int:
        return self.layers[0].fan_in

    @property
    def outputs(self) -> int:
        return self.layers[-1].width

    @property
    def parameters(self) -> int:
        return sum(layer.weight.size + layer.bias.size for layer in self.layers)

    def __call__(self, x: npt.NDArray[Any], backend: Backend = "numpy") -> I64:
        """The output layer's integer sums ``(rows, outputs)`` of integer inputs ``x`` ``(rows, fan_in)``
        (clipped to the first layer's input range)."""
        if x.ndim != 2 or x.shape[1] != self.fan_in:
            raise ModelError(f"the network takes (rows, {self.fan_in}) inputs, got {x.shape}")
        if backend == "torch":
            return _run_torch(self, x)
        out = np.empty((x.shape[0], self.outputs), dtype=np.int64)
        for start in range(0, x.shape[0], BLOCK_ROWS):
            h = np.clip(x[start : start + BLOCK_ROWS], -self.layers[0].input_max, self.layers[0].input_max)
            block = h.astype(np.float32)
            for layer in self.layers:
                acc = (block @ layer.weight.T.astype(np.float32)).astype(np.int64)
                acc += layer.bias
                if layer.multiplier is None:
                    out[start : start + BLOCK_ROWS] = acc
                else:
                    block = requantise(acc, layer.multiplier).astype(np.float32)
        return out


def requantise(acc: I64, multiplier: I64) -> I64:
    """A hidden layer's values: ``(acc * multiplier + 2**(SHIFT-1)) >> SHIFT`` clipped to [0, HIDDEN_MAX]."""
    scaled = (acc * multiplier + (1 << (SHIFT - 1))) >> SHIFT
    out: I64 = np.clip(scaled, 0, HIDDEN_MAX)
    return out


def _run_torch(net: IntMLP, x: npt.NDArray[Any]) -> I64:
    """:meth:`IntMLP.__call__` with torch doing the arithmetic (the same bits)."""
    import torch

    weights = [torch.from_numpy(layer.weight.T.astype(np.float32)) for layer in net.layers]
    out = np.empty((x.shape[0], net.outputs), dtype=np.int64)
    first = net.layers[0].input_max
    for start in range(0, x.shape[0], BLOCK_ROWS):
        h = torch.from_numpy(np.clip(x[start : start + BLOCK_ROWS], -first, first).astype(np.float32))
        for layer, w in zip(net.layers, weights, strict=True):
            acc = torch.matmul(h, w).to(torch.int64) + torch.from_numpy(layer.bias)
            if layer.multiplier is None:
                out[start : start + BLOCK_ROWS] = acc.numpy()
            else:
                m = torch.from_numpy(layer.multiplier)
                scaled = torch.bitwise_right_shift(acc * m + (1 << (SHIFT - 1)), SHIFT)
                h = torch.clamp(scaled, 0, HIDDEN_MAX).to(torch.float32)
    return out


def quantise_layers(
    weights: Sequence[npt.NDArray[np.floating[Any]]],
    biases: Sequence[npt.NDArray[np.floating[Any]]],
    input_scale: float,
    hidden_scale: float,
    input_max: int = INPUT_MAX,
) -> tuple[IntMLP, npt.NDArray[np.float64]]:
    """The integer network of float weights ``(out, in)`` and biases whose inputs are real values
    times ``input_scale`` and whose hidden values are real values times ``hidden_scale``; also the
    factor that turns each output's integer sum into its real value."""
    layers: list[IntLayer] = []
    scale_in = input_scale
    out_scale = np.ones(0)
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        top = float(np.abs(w).max()) or 1.0
        s_w = WEIGHT_MAX / top
        wq = np.clip(np.rint(w * s_w), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
        bq = np.clip(np.rint(b * s_w * scale_in), -MAX_BIAS, MAX_BIAS).astype(np.int64)
        last = i == len(weights) - 1
        mult = None
        if not last:
            ratio = hidden_scale / (s_w * scale_in)
            mult = np.full(w.shape[0], min(MAX_MULTIPLIER - 1, round(ratio * (1 << SHIFT))), dtype=np.int64)
        else:
            out_scale = np.full(w.shape[0], 1.0 / (s_w * scale_in))
        layers.append(IntLayer(wq, bq, mult, input_max if i == 0 else HIDDEN_MAX))
        scale_in = hidden_scale
    return IntMLP(tuple(layers)), out_scale


__all__ = [
    "EXACT_SUM",
    "HIDDEN_MAX",
    "INPUT_MAX",
    "SHIFT",
    "WEIGHT_MAX",
    "Backend",
    "IntLayer",
    "IntMLP",
    "quantise_layers",
    "requantise",
]

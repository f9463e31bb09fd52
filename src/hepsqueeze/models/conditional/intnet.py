"""Integer (fixed-point) inference of a small multilayer perceptron, bit-identical on every machine.

The probabilities an entropy coder uses must be the same at the encoder and the decoder, whatever
the CPU, the thread count, the BLAS or the GPU. Floating-point sums taken in another order give
other bits, so the networks that feed the coder's tables compute with integers only:

- inputs are integers with ``|a| <= INPUT_MAX``, hidden activations integers in ``[0, HIDDEN_MAX]``,
  weights int8 (``|w| <= WEIGHT_MAX``) and biases integers;
- a layer's products are summed by an ordinary float32 matrix product. Every operand is a small
  integer and every partial sum, the bias included, stays below ``2**24`` in magnitude (checked
  from the fan-in and the bias when a network is built), so each sum is exact in float32 in any
  order: BLAS may block, thread or fuse (FMA) as it likes and the result is the same integer.
  numpy and torch give the same bits;
- a hidden layer's integer sum is requantised by one float32 multiplication by the layer's
  ``scale``, rounded half to even and clipped to ``[0, HIDDEN_MAX]`` (a ReLU). IEEE 754 rounds a
  single multiplication exactly, so this too is the same on every machine; the output layer's
  sums are returned as the integers they are.
"""

from __future__ import annotations

import functools
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
#: Every partial sum of a float32 matrix product stays below this, so each is exact.
EXACT_SUM: Final = 1 << 24
#: Rows per matrix product (bounds the float32 copies of a block of inputs).
BLOCK_ROWS: Final = 1 << 16

Backend = Literal["numpy", "torch"]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class IntLayer:
    """One fully connected layer: ``weight`` int8 ``(out, in)``, ``bias`` int32 ``(out,)``;
    ``scale`` (float32 ``(out,)``) requantises a hidden layer's sums, ``None`` for the output
    layer. ``input_max``: the largest |input| the layer is fed."""

    weight: npt.NDArray[np.int8]
    bias: npt.NDArray[np.int32]
    scale: npt.NDArray[np.float32] | None
    input_max: int

    def __post_init__(self) -> None:
        w, b, m = self.weight, self.bias, self.scale
        if w.dtype != np.int8 or w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
            raise ModelError(f"a layer's weight must be a non-empty 2-d int8 array, got {w.dtype} {w.shape}")
        if bool((w == -128).any()):
            raise ModelError(f"a layer's weights must lie in [-{WEIGHT_MAX}, {WEIGHT_MAX}]")
        if not 0 < self.input_max <= INPUT_MAX:
            raise ModelError(f"a layer's input range must lie in (0, {INPUT_MAX}], got {self.input_max}")
        if b.dtype != np.int32 or b.shape != (w.shape[0],):
            raise ModelError(f"a layer's bias must be int32 of shape ({w.shape[0]},)")
        if w.shape[1] * WEIGHT_MAX * self.input_max + int(np.abs(b.astype(np.int64)).max()) >= EXACT_SUM:
            raise ModelError(
                f"a layer of fan-in {w.shape[1]} fed values up to {self.input_max} could sum past 2^24 "
                "(float32 sums would no longer be exact)"
            )
        if m is not None and (
            m.dtype != np.float32 or m.shape != (w.shape[0],) or not bool((np.isfinite(m) & (m >= 0)).all())
        ):
            raise ModelError(f"a layer's scales must be finite float32 >= 0 of shape ({w.shape[0]},)")

    @property
    def fan_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def width(self) -> int:
        return int(self.weight.shape[0])

    @property
    def bias_room(self) -> int:
        """The largest |bias| that keeps every sum exact."""
        return EXACT_SUM - 1 - self.fan_in * WEIGHT_MAX * self.input_max


@dataclass(frozen=True, eq=False)
class IntMLP:
    """Hidden layers (requantised ReLUs) then one output layer (integer sums)."""

    layers: tuple[IntLayer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise ModelError("a network needs at least one layer")
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            if (layer.scale is None) != last:
                raise ModelError("every hidden layer (and only they) must have requantisation scales")
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

    def __call__(self, x: npt.NDArray[np.float32], backend: Backend = "numpy") -> npt.NDArray[np.float32]:
        """The output layer's integer sums ``(rows, outputs)`` (float32, exact) of integer-valued
        float32 inputs ``x`` ``(rows, fan_in)`` within the first layer's input range."""
        if x.ndim != 2 or x.shape[1] != self.fan_in or x.dtype != np.float32:
            raise ModelError(
                f"the network takes (rows, {self.fan_in}) float32 inputs, got {x.shape} {x.dtype}"
            )
        if backend == "torch":
            return _run_torch(self, x)
        out = np.empty((x.shape[0], self.outputs), dtype=np.float32)
        weights = self._weights
        for start in range(0, x.shape[0], BLOCK_ROWS):
            h = x[start : start + BLOCK_ROWS]
            for layer, w, b in zip(self.layers, weights, self._biases, strict=True):
                acc = h @ w
                acc += b
                if layer.scale is None:
                    out[start : start + BLOCK_ROWS] = acc
                else:
                    acc *= layer.scale
                    np.rint(acc, out=acc)
                    h = np.clip(acc, 0.0, float(HIDDEN_MAX), out=acc)
        return out

    def with_constant_inputs(self, constant: npt.NDArray[np.int64]) -> IntMLP:
        """This network with the first layer's odd inputs fixed to ``constant`` (their values;
        the presence flags of a file's columns), folded into the bias: it then takes the even
        inputs only. The sums are the same integers, so the outputs are the same bits."""
        first = self.layers[0]
        if first.fan_in % 2 or constant.shape != (first.fan_in // 2,):
            raise ModelError(f"expected {first.fan_in // 2} constant inputs, got {constant.shape}")
        w = first.weight.astype(np.int64)
        bias = first.bias.astype(np.int64) + w[:, 1::2] @ constant
        folded = IntLayer(
            np.ascontiguousarray(first.weight[:, 0::2]), bias.astype(np.int32), first.scale, first.input_max
        )
        return IntMLP((folded, *self.layers[1:]))

    @functools.cached_property
    def _weights(self) -> list[npt.NDArray[np.float32]]:
        return [np.ascontiguousarray(layer.weight.T, dtype=np.float32) for layer in self.layers]

    @functools.cached_property
    def _biases(self) -> list[npt.NDArray[np.float32]]:
        return [layer.bias.astype(np.float32) for layer in self.layers]


def _run_torch(net: IntMLP, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """:meth:`IntMLP.__call__` with torch doing the arithmetic (the same bits)."""
    import torch

    weights = [torch.from_numpy(layer.weight.T.astype(np.float32)) for layer in net.layers]
    biases = [torch.from_numpy(layer.bias.astype(np.float32)) for layer in net.layers]
    out = np.empty((x.shape[0], net.outputs), dtype=np.float32)
    for start in range(0, x.shape[0], BLOCK_ROWS):
        h = torch.from_numpy(np.ascontiguousarray(x[start : start + BLOCK_ROWS]))
        for layer, w, b in zip(net.layers, weights, biases, strict=True):
            acc = torch.matmul(h, w) + b
            if layer.scale is None:
                out[start : start + BLOCK_ROWS] = acc.numpy()
            else:
                h = torch.clamp(torch.round(acc * torch.from_numpy(layer.scale)), 0.0, float(HIDDEN_MAX))
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
        room = EXACT_SUM - 1 - w.shape[1] * WEIGHT_MAX * (input_max if i == 0 else HIDDEN_MAX)
        bq = np.clip(np.rint(b * s_w * scale_in), -room, room).astype(np.int32)
        last = i == len(weights) - 1
        scale = None
        if not last:
            scale = np.full(w.shape[0], hidden_scale / (s_w * scale_in), dtype=np.float32)
        else:
            out_scale = np.full(w.shape[0], 1.0 / (s_w * scale_in))
        layers.append(IntLayer(wq, bq, scale, input_max if i == 0 else HIDDEN_MAX))
        scale_in = hidden_scale
    return IntMLP(tuple(layers)), out_scale


__all__ = [
    "EXACT_SUM",
    "HIDDEN_MAX",
    "INPUT_MAX",
    "WEIGHT_MAX",
    "Backend",
    "IntLayer",
    "IntMLP",
    "quantise_layers",
]

"""The integer networks of the learned conditional models (models.conditional.intnet): float32
matrix products whose every partial sum is an integer below 2**24, so the outputs are exact
integers whatever the BLAS, the thread count or the backend; layers that could pass 2**24 are
refused when they are built."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from hepsqueeze.errors import ModelError
from hepsqueeze.models.conditional.intnet import (
    EXACT_SUM,
    HIDDEN_MAX,
    INPUT_MAX,
    WEIGHT_MAX,
    IntLayer,
    IntMLP,
    quantise_layers,
)

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def random_net(
    rng: np.random.Generator, sizes: list[int], input_max: int = INPUT_MAX, full_bias: bool = True
) -> IntMLP:
    """A network of random int8 weights (the extremes +-127 included), biases up to the largest
    the layer allows, and scales that keep many hidden values inside (0, 127)."""
    layers = []
    for i, (fan_in, width) in enumerate(itertools.pairwise(sizes)):
        top = input_max if i == 0 else HIDDEN_MAX
        w = rng.integers(-WEIGHT_MAX, WEIGHT_MAX + 1, (width, fan_in)).astype(np.int8)
        w[-1, -1] = -WEIGHT_MAX
        # the first unit's weights all +-127: with the largest bias, sums reach 2**24 - 1
        w[0] = rng.choice(np.array([-WEIGHT_MAX, WEIGHT_MAX], dtype=np.int8), fan_in)
        typical = 0.3 * WEIGHT_MAX * top * np.sqrt(fan_in)
        room = EXACT_SUM - 1 - fan_in * WEIGHT_MAX * top
        span = min(int(typical), room)
        b = rng.integers(-span, span + 1, width).astype(np.int32)
        if full_bias:
            b[0] = room
        last = i == len(sizes) - 2
        scale = None if last else (rng.uniform(0.5, 2.0, width) * HIDDEN_MAX / typical).astype(np.float32)
        layers.append(IntLayer(w, b, scale, top))
    return IntMLP(tuple(layers))


def random_inputs(rng: np.random.Generator, rows: int, fan_in: int, top: int = INPUT_MAX) -> F32:
    x = rng.integers(-top, top + 1, (rows, fan_in)).astype(np.float32)
    x[0] = top  # the extremes too
    x[1] = -top
    return x


def reference(net: IntMLP, x: F32, hidden: list[I64] | None = None) -> I64:
    """The network in int64 arithmetic; only the requantisation is a float32 multiplication (and
    a rounding half to even), as the network defines it. ``hidden`` collects the hidden values."""
    h = x.astype(np.int64)
    for layer in net.layers:
        acc = h @ layer.weight.T.astype(np.int64) + layer.bias.astype(np.int64)
        assert int(np.abs(acc).max()) < EXACT_SUM
        if layer.scale is None:
            return acc
        scaled = acc.astype(np.float32) * layer.scale
        assert scaled.dtype == np.float32
        h = np.clip(np.rint(scaled), 0, HIDDEN_MAX).astype(np.int64)
        if hidden is not None:
            hidden.append(h)
    raise AssertionError("no output layer")  # pragma: no cover


def same_bits(a: F32, b: F32) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool((a.view(np.uint32) == b.view(np.uint32)).all())


@pytest.fixture(scope="module")
def net() -> IntMLP:
    return random_net(np.random.default_rng(11), [40, 32, 24, 2])


@pytest.fixture(scope="module")
def x() -> F32:
    return random_inputs(np.random.default_rng(12), 3000, 40)


# ----------------------------------------------------------------------------- exactness


def test_outputs_equal_the_integer_reference(net: IntMLP, x: F32) -> None:
    out = net(x)
    assert out.dtype == np.float32
    assert out.shape == (x.shape[0], 2)
    hidden: list[I64] = []
    ref = reference(net, x, hidden)
    assert np.array_equal(out.astype(np.int64), ref)
    assert np.array_equal(out, np.rint(out))  # integers
    # the hidden values are neither all clipped nor all zero: the reference checks something
    for h in hidden:
        assert 0.2 < float(((h > 0) & (h < HIDDEN_MAX)).mean()) < 0.9
    # the sums reach the largest exact integer: the first unit, row 0 (every input at +-INPUT_MAX)
    first = net.layers[0]
    worst = np.where(first.weight[0] > 0, INPUT_MAX, -INPUT_MAX)
    assert int(worst @ first.weight[0].astype(np.int64)) + int(first.bias[0]) == EXACT_SUM - 1


@pytest.mark.parametrize("sizes", [[1, 2], [3, 1, 2], [129, 7, 2], [16, 64, 64, 64, 5]])
def test_shapes_and_the_largest_fan_in(sizes: list[int]) -> None:
    """From one layer to four; 129 inputs at INPUT_MAX with the largest bias is the widest first
    layer whose sums stay exact."""
    rng = np.random.default_rng(sum(sizes))
    net = random_net(rng, sizes)
    x = random_inputs(rng, 500, sizes[0])
    # the worst case of the first layer: every input at +-INPUT_MAX along the signs of a row
    x[2] = np.where(net.layers[0].weight[0] > 0, INPUT_MAX, -INPUT_MAX)
    out = net(x)
    assert out.shape == (500, sizes[-1])
    ref = reference(net, x)
    assert np.array_equal(out.astype(np.int64), ref)
    assert same_bits(net(x, "torch"), out)
    if len(sizes) == 2:  # a single (output) layer: the largest sum comes out as it is
        assert int(ref[2, 0]) == EXACT_SUM - 1
    assert net.fan_in == sizes[0]
    assert net.outputs == sizes[-1]
    assert net.parameters == sum(a * b + b for a, b in itertools.pairwise(sizes))


def test_more_rows_than_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are run in blocks; the block edges change nothing."""
    from hepsqueeze.models.conditional import intnet

    rng = np.random.default_rng(13)
    net = random_net(rng, [5, 8, 2])
    x = random_inputs(rng, 1000, 5)
    whole = net(x)
    monkeypatch.setattr(intnet, "BLOCK_ROWS", 77)
    assert same_bits(net(x), whole)
    assert same_bits(net(x, "torch"), whole)
    assert np.array_equal(whole.astype(np.int64), reference(net, x))


def test_no_rows(net: IntMLP) -> None:
    x = np.zeros((0, net.fan_in), dtype=np.float32)
    assert net(x).shape == (0, 2)
    assert net(x, "torch").shape == (0, 2)


def test_torch_backend_gives_the_same_bits(net: IntMLP, x: F32) -> None:
    out = net(x)
    assert same_bits(net(x, "torch"), out)
    # a view of a larger array (not contiguous) too
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), dtype=np.float32)
    wide[:, ::2] = x
    assert same_bits(net(wide[:, ::2]), out)
    assert same_bits(net(wide[:, ::2], "torch"), out)


def test_torch_thread_counts_give_the_same_bits(net: IntMLP, x: F32) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            outs.append(net(x, "torch"))
    finally:
        torch.set_num_threads(before)
    assert same_bits(outs[0], outs[1])
    assert same_bits(outs[0], net(x))


def test_blas_thread_limits_give_the_same_bits(net: IntMLP, x: F32) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    outs = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads):
            outs.append(net(x))
            outs.append(net(x, "torch"))
    for out in outs[1:]:
        assert same_bits(out, outs[0])


def test_halves_round_to_even() -> None:
    """A sum times its scale landing on k + 1/2 rounds to the even k, in both backends."""
    w = np.array([[1], [1], [1], [1]], dtype=np.int8)
    hidden = IntLayer(w, np.zeros(4, np.int32), np.full(4, 0.5, np.float32), INPUT_MAX)
    out = IntLayer(np.eye(4, dtype=np.int8), np.zeros(4, np.int32), None, HIDDEN_MAX)
    net = IntMLP((hidden, out))
    x = np.array([[1], [3], [5], [-1], [255], [300]], dtype=np.float32)
    want = np.array([0, 2, 2, 0, 127, 127], dtype=np.float32)  # 0.5, 1.5, 2.5, -0.5 (ReLU), 127.5, 150
    for backend in ("numpy", "torch"):
        got = net(x, backend)
        assert np.array_equal(got, np.repeat(want[:, None], 4, axis=1)), backend


@pytest.mark.parametrize("seed", [0, 1])
def test_constant_inputs_folded_into_the_bias(seed: int) -> None:
    """The odd inputs fixed (presence flags: 0 or INPUT_SCALE) and folded into the first layer's
    bias: the same integer sums, so the same bits, from the even inputs alone."""
    rng = np.random.default_rng(seed)
    net = random_net(rng, [40, 16, 2])
    constant = rng.choice(np.array([0, 128]), 20).astype(np.int64)
    x = random_inputs(rng, 2000, 40)
    x[:, 1::2] = constant
    folded = net.with_constant_inputs(constant)
    assert folded.fan_in == 20
    assert folded.layers[1:] == net.layers[1:]
    want = net(x)
    even = np.ascontiguousarray(x[:, 0::2])
    assert same_bits(folded(even), want)
    assert same_bits(folded(even, "torch"), want)
    assert np.array_equal(want.astype(np.int64), reference(net, x))


def test_folding_keeps_the_largest_sums_exact() -> None:
    """A first layer at the largest bias, every flag weight +127 and every flag present: the
    folded bias still leaves every sum exact (the flags' 128 is below INPUT_MAX)."""
    fan_in = 128
    w = np.full((2, fan_in), WEIGHT_MAX, np.int8)
    room = EXACT_SUM - 1 - fan_in * WEIGHT_MAX * INPUT_MAX
    first = IntLayer(w, np.array([room, -room], np.int32), None, INPUT_MAX)
    net = IntMLP((first,))
    constant = np.full(fan_in // 2, 128, np.int64)
    folded = net.with_constant_inputs(constant)
    x = np.full((3, fan_in), INPUT_MAX, np.float32)
    x[:, 1::2] = 128
    x[1, 0::2] = -INPUT_MAX
    assert same_bits(folded(np.ascontiguousarray(x[:, 0::2])), net(x))
    assert np.array_equal(net(x).astype(np.int64), reference(net, x))


def test_folding_refuses_the_wrong_number_of_constants() -> None:
    net = random_net(np.random.default_rng(3), [6, 4, 2])
    for bad in (np.zeros(2, np.int64), np.zeros(4, np.int64), np.zeros((3, 1), np.int64)):
        with pytest.raises(ModelError, match="constant inputs"):
            net.with_constant_inputs(bad)
    odd = random_net(np.random.default_rng(4), [5, 4, 2])
    with pytest.raises(ModelError, match="constant inputs"):
        odd.with_constant_inputs(np.zeros(2, np.int64))


# ----------------------------------------------------------------------------- refusals


def layer(
    fan_in: int = 4,
    width: int = 3,
    input_max: int = INPUT_MAX,
    bias: int = 0,
    weight_dtype: type = np.int8,
    bias_dtype: type = np.int32,
    scale: F32 | None = None,
) -> IntLayer:
    w: npt.NDArray[Any] = np.ones((width, fan_in), dtype=weight_dtype)
    b: npt.NDArray[Any] = np.full(width, bias, dtype=bias_dtype)
    return IntLayer(w, b, scale, input_max)


def test_fan_in_that_could_pass_2_to_the_24_is_refused() -> None:
    # 129 * 127 * 1023 < 2**24 <= 130 * 127 * 1023
    assert 129 * WEIGHT_MAX * INPUT_MAX < EXACT_SUM <= 130 * WEIGHT_MAX * INPUT_MAX
    assert layer(fan_in=129).fan_in == 129
    with pytest.raises(ModelError, match="2\\^24"):
        layer(fan_in=130)
    # a hidden layer (inputs up to 127) may be wider
    widest = (EXACT_SUM - 1) // (WEIGHT_MAX * HIDDEN_MAX)
    assert layer(fan_in=widest, input_max=HIDDEN_MAX).fan_in == widest
    with pytest.raises(ModelError, match="2\\^24"):
        layer(fan_in=widest + 1, input_max=HIDDEN_MAX)


def test_input_range_that_could_pass_2_to_the_24_is_refused() -> None:
    fan_in = 200
    top = (EXACT_SUM - 1) // (fan_in * WEIGHT_MAX)
    assert layer(fan_in=fan_in, input_max=top).input_max == top
    with pytest.raises(ModelError, match="2\\^24"):
        layer(fan_in=fan_in, input_max=top + 1)


@pytest.mark.parametrize("top", [0, -1, INPUT_MAX + 1])
def test_input_range_outside_its_limits_is_refused(top: int) -> None:
    with pytest.raises(ModelError, match="input range"):
        layer(fan_in=1, input_max=top)


@pytest.mark.parametrize("sign", [1, -1])
def test_bias_that_could_pass_2_to_the_24_is_refused(sign: int) -> None:
    room = layer(fan_in=100).bias_room
    assert room == EXACT_SUM - 1 - 100 * WEIGHT_MAX * INPUT_MAX
    assert layer(fan_in=100, bias=sign * room).bias_room == room
    with pytest.raises(ModelError, match="2\\^24"):
        layer(fan_in=100, bias=sign * (room + 1))
    with pytest.raises(ModelError, match="2\\^24"):
        layer(fan_in=1, bias=sign * (2**31 - 1))


def test_weights_of_minus_128_are_refused() -> None:
    w = np.full((2, 3), 5, dtype=np.int8)
    w[1, 2] = -128
    with pytest.raises(ModelError, match="-127, 127"):
        IntLayer(w, np.zeros(2, np.int32), None, INPUT_MAX)
    w[1, 2] = -127
    assert IntLayer(w, np.zeros(2, np.int32), None, INPUT_MAX).width == 2


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32, np.int64])
def test_weights_of_another_dtype_are_refused(dtype: type) -> None:
    with pytest.raises(ModelError, match="int8"):
        layer(weight_dtype=dtype)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (3,), (2, 3, 1)])
def test_weights_of_another_shape_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ModelError, match="weight"):
        IntLayer(np.ones(shape, np.int8), np.zeros(3, np.int32), None, INPUT_MAX)


@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.uint32, np.float32])
def test_bias_of_another_dtype_is_refused(dtype: type) -> None:
    with pytest.raises(ModelError, match="bias"):
        layer(bias_dtype=dtype)


def test_bias_of_another_shape_is_refused() -> None:
    with pytest.raises(ModelError, match="bias"):
        IntLayer(np.ones((3, 4), np.int8), np.zeros(4, np.int32), None, INPUT_MAX)


@pytest.mark.parametrize(
    "scale",
    [
        np.ones(3, np.float64),
        np.ones(3, np.float16),
        np.ones(2, np.float32),
        np.ones((3, 1), np.float32),
        np.array([1, np.nan, 1], np.float32),
        np.array([1, np.inf, 1], np.float32),
        np.array([1, -0.5, 1], np.float32),
    ],
)
def test_invalid_scales_are_refused(scale: F32) -> None:
    with pytest.raises(ModelError, match="scales"):
        layer(scale=scale)


def test_output_layer_with_a_scale_is_refused() -> None:
    hidden = layer(fan_in=4, width=3, scale=np.ones(3, np.float32))
    out = IntLayer(np.ones((2, 3), np.int8), np.zeros(2, np.int32), np.ones(2, np.float32), HIDDEN_MAX)
    with pytest.raises(ModelError, match="hidden layer"):
        IntMLP((hidden, out))
    with pytest.raises(ModelError, match="hidden layer"):
        IntMLP((hidden,))  # a single layer is an output layer


def test_hidden_layer_without_a_scale_is_refused() -> None:
    hidden = layer(fan_in=4, width=3)
    out = IntLayer(np.ones((2, 3), np.int8), np.zeros(2, np.int32), None, HIDDEN_MAX)
    with pytest.raises(ModelError, match="hidden layer"):
        IntMLP((hidden, out))


def test_mismatched_fan_ins_are_refused() -> None:
    hidden = layer(fan_in=4, width=3, scale=np.ones(3, np.float32))
    out = IntLayer(np.ones((2, 5), np.int8), np.zeros(2, np.int32), None, HIDDEN_MAX)
    with pytest.raises(ModelError, match="takes 5 inputs"):
        IntMLP((hidden, out))


def test_a_later_layer_must_take_hidden_values() -> None:
    hidden = layer(fan_in=4, width=3, scale=np.ones(3, np.float32))
    out = IntLayer(np.ones((2, 3), np.int8), np.zeros(2, np.int32), None, INPUT_MAX)
    with pytest.raises(ModelError, match="hidden values"):
        IntMLP((hidden, out))


def test_a_network_needs_a_layer() -> None:
    with pytest.raises(ModelError, match="at least one layer"):
        IntMLP(())


@pytest.mark.parametrize(
    "x",
    [
        np.zeros((5, 39), np.float32),
        np.zeros((5, 41), np.float32),
        np.zeros(40, np.float32),
        np.zeros((5, 40), np.float64),
        np.zeros((5, 40), np.int64),
    ],
)
def test_inputs_of_another_shape_or_dtype_are_refused(net: IntMLP, x: npt.NDArray[np.float32]) -> None:
    for backend in ("numpy", "torch"):
        with pytest.raises(ModelError, match="float32 inputs"):
            net(x, backend)


# ----------------------------------------------------------------------------- quantisation


def float_net(weights: list[F64], biases: list[F64], x: F64, top: float) -> F64:
    h = x
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = np.clip(h, 0.0, top)
    return h


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quantise_layers_approximates_the_float_network(seed: int) -> None:
    """The integer network of float weights, fed ``rint(x * input_scale)``, gives the float
    network's outputs (ReLU clipped at HIDDEN_MAX / hidden_scale) within a few percent of their
    spread."""
    rng = np.random.default_rng(seed)
    sizes = [12, 32, 32, 2]
    weights = [rng.normal(0, np.sqrt(2 / a), (b, a)) for a, b in itertools.pairwise(sizes)]
    biases = [rng.normal(0, 0.1, b) for b in sizes[1:]]
    input_scale, hidden_scale = 128.0, HIDDEN_MAX / 6.0
    net, out_scale = quantise_layers(weights, biases, input_scale, hidden_scale)
    assert out_scale.shape == (2,)
    assert out_scale.dtype == np.float64
    assert [layer.input_max for layer in net.layers] == [INPUT_MAX, HIDDEN_MAX, HIDDEN_MAX]
    assert [layer.scale is None for layer in net.layers] == [False, False, True]
    for layer_, w in zip(net.layers, weights, strict=True):
        assert int(np.abs(layer_.weight.astype(np.int64)).max()) == WEIGHT_MAX  # the full int8 range
        assert layer_.weight.shape == w.shape
    x = np.clip(rng.normal(0, 1, (4000, 12)), -7.9, 7.9)
    xq = np.rint(x * input_scale).astype(np.float32)
    got = net(xq).astype(np.float64) * out_scale
    want = float_net(weights, biases, xq.astype(np.float64) / input_scale, HIDDEN_MAX / hidden_scale)
    spread = want.std(axis=0)
    err = np.abs(got - want)
    assert float((err.mean(axis=0) / spread).max()) < 0.05
    assert float((np.quantile(err, 0.99, axis=0) / spread).max()) < 0.2
    assert np.corrcoef(got[:, 0], want[:, 0])[0, 1] > 0.99
    assert np.corrcoef(got[:, 1], want[:, 1])[0, 1] > 0.99


def test_quantise_layers_clips_biases_to_their_room() -> None:
    """A huge bias is clipped to what keeps the sums exact (the network is still built)."""
    rng = np.random.default_rng(5)
    weights = [rng.normal(0, 1, (4, 3)), rng.normal(0, 1, (2, 4))]
    biases = [np.array([1e9, -1e9, 0.0, 0.5]), np.array([1e9, 0.0])]
    net, _ = quantise_layers(weights, biases, 128.0, 20.0)
    first, last = net.layers
    assert int(first.bias[0]) == first.bias_room
    assert int(first.bias[1]) == -first.bias_room
    assert int(last.bias[0]) == last.bias_room
    x = random_inputs(rng, 100, 3)
    assert np.array_equal(net(x).astype(np.int64), reference(net, x))


def test_quantise_layers_of_zero_weights() -> None:
    net, out_scale = quantise_layers(
        [np.zeros((3, 2)), np.zeros((2, 3))], [np.zeros(3), np.zeros(2)], 128.0, 20.0
    )
    assert np.isfinite(out_scale).all()
    out = net(np.ones((4, 2), np.float32))
    assert np.array_equal(out, np.zeros((4, 2), np.float32))

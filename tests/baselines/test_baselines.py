"""Every baseline round-trips; lossless ones bit for bit, bounded ones within every value's bound."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepsqueeze.baselines import (
    Baseline,
    BitRound,
    BoundViolationError,
    ErrorBound,
    Float16,
    FpzipReduced,
    Quantise,
    Sz3,
    Zfp,
    Zstd,
    bounds_for,
    column_errors,
    decompress,
    default_baselines,
    get_baseline,
    payload_method,
)
from hepsqueeze.errors import ConfigError, ContainerError, InputError
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.bounds import BoundKind

VARIABLES = ["E", "pt", "eta", "phi"]
BOUNDED = [b for b in default_baselines() if b.bounded]
LOSSLESS = [b for b in default_baselines() if b.lossless]


def fake_jets(rng: np.random.Generator, rows: int = 3000) -> npt.NDArray[np.float32]:
    """Jet-like (E, pt, eta, phi): pt > 20 GeV falling steeply, |eta| < 4.5, phi in [-pi, pi)."""
    pt = 20.0 + rng.exponential(40.0, rows)
    eta = rng.uniform(-4.5, 4.5, rows)
    phi = rng.uniform(-np.pi, np.pi, rows)
    energy = pt * np.cosh(eta) * (1.0 + rng.exponential(0.01, rows))
    return np.stack([energy, pt, eta, phi], axis=1).astype(np.float32)


def assert_within(
    x: npt.NDArray[Any], y: npt.NDArray[Any], names: list[str], bounds: tuple[ErrorBound, ...]
) -> None:
    assert y.shape == x.shape
    assert y.dtype == np.float32
    for j, (var, b) in enumerate(zip(names, bounds, strict=True)):
        worst = column_errors(x[:, j], y[:, j], var).max()
        assert worst <= b.value, f"{var}: max error {worst} above {b.kind} bound {b.value}"


@pytest.mark.parametrize("method", LOSSLESS, ids=lambda m: m.name)
def test_lossless_is_bit_exact(method: Baseline, rng: np.random.Generator) -> None:
    x = fake_jets(rng)
    x[0, 0] = np.nan  # lossless methods keep anything, NaN included
    x[1, 2] = -0.0
    y = method.decompress(method.compress(x, VARIABLES))
    assert np.array_equal(x.view(np.uint32), y.view(np.uint32))


@pytest.mark.parametrize("eps", [1e-2, 1e-3, 3e-4])
@pytest.mark.parametrize("method", BOUNDED, ids=lambda m: m.name)
def test_bounded_methods_keep_every_value_within_bound(
    method: Baseline, eps: float, rng: np.random.Generator
) -> None:
    x = fake_jets(rng)
    bounds = bounds_for(VARIABLES, eps)
    payload = method.compress(x, VARIABLES, bounds)
    assert len(payload) < x.nbytes
    assert_within(x, method.decompress(payload), VARIABLES, bounds)


def test_jets_fixture_within_bounds(jets: Table) -> None:
    x = jets.stack(VARIABLES)
    bounds = bounds_for(VARIABLES, 1e-3)
    for method in BOUNDED:
        assert_within(x, method.decompress(method.compress(x, VARIABLES, bounds)), VARIABLES, bounds)


def test_float16_is_unbounded_and_reports_overflow(rng: np.random.Generator) -> None:
    x = fake_jets(rng, 100)
    x[0, 0] = 1e5  # beyond float16's 65504
    y = Float16().decompress(Float16().compress(x, VARIABLES))
    assert np.isinf(y[0, 0])
    assert column_errors(x[1:, 1], y[1:, 1], "pt").max() <= 2.0**-11


@pytest.mark.parametrize("method", BOUNDED, ids=lambda m: m.name)
def test_relative_bound_with_zero_and_negative_values(method: Baseline, rng: np.random.Generator) -> None:
    x = rng.normal(0.0, 50.0, (500, 1)).astype(np.float32)
    x[::7] = 0.0
    bounds = (ErrorBound("relative", 1e-3),)
    y = method.decompress(method.compress(x, ["pt"], bounds))
    assert_within(x, y, ["pt"], bounds)
    assert np.all(y[::7] == 0.0)


@pytest.mark.parametrize("method", BOUNDED, ids=lambda m: m.name)
def test_phi_next_to_pi_stays_within_bound(method: Baseline) -> None:
    phi = np.array([np.pi - 1e-6, -np.pi, -np.pi + 2e-6, np.pi - 3e-4] * 50, dtype=np.float32)
    x = phi.reshape(-1, 1)
    bounds = (ErrorBound("absolute", 1e-3),)
    assert_within(x, method.decompress(method.compress(x, ["phi"], bounds)), ["phi"], bounds)


positive = st.floats(0.0009765625, 16384.0, width=32)  # 2^-10 .. 2^14, exact in float32
signed = st.floats(-6.0, 6.0, width=32)
_PI32 = float(np.nextafter(np.float32(np.pi), np.float32(0)))  # largest float32 below pi


@st.composite
def columns_and_bounds(draw: st.DrawFn) -> tuple[npt.NDArray[np.float32], list[str], tuple[ErrorBound, ...]]:
    rows = draw(st.integers(1, 60))
    pt = draw(hnp.arrays(np.float32, rows, elements=positive))
    eta = draw(hnp.arrays(np.float32, rows, elements=signed))
    phi = draw(hnp.arrays(np.float32, rows, elements=st.floats(-_PI32, _PI32, width=32)))
    eps = draw(st.sampled_from([1e-1, 1e-2, 1e-3, 1e-4, 3e-5]))
    kinds: list[BoundKind] = ["relative", "absolute", "absolute"]
    return np.stack([pt, eta, phi], axis=1), ["pt", "eta", "phi"], tuple(ErrorBound(k, eps) for k in kinds)


@pytest.mark.parametrize("method", BOUNDED, ids=lambda m: m.name)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=columns_and_bounds())
def test_bounded_property(method: Baseline, case: tuple[Any, list[str], tuple[ErrorBound, ...]]) -> None:
    x, names, bounds = case
    assert_within(x, method.decompress(method.compress(x, names, bounds)), names, bounds)


def test_registry_decompresses_any_payload(rng: np.random.Generator) -> None:
    x = fake_jets(rng, 200)
    payload = Sz3().compress(x, VARIABLES, bounds_for(VARIABLES, 1e-2))
    assert payload_method(payload) == "sz3"
    assert decompress(payload).shape == x.shape
    assert get_baseline("zstd-7").name == "zstd-7"
    assert get_baseline("shuffle+zstd-5").name == "shuffle+zstd-5"
    with pytest.raises(ConfigError, match="did you mean"):
        get_baseline("sz2")


@pytest.mark.parametrize(
    "method", [BitRound(), Quantise(), Sz3(), Zfp(), FpzipReduced()], ids=lambda m: m.name
)
def test_bounded_methods_need_valid_bounds(method: Baseline, rng: np.random.Generator) -> None:
    x = fake_jets(rng, 50)
    with pytest.raises(ConfigError):
        method.compress(x, VARIABLES)
    with pytest.raises(ConfigError, match="4 variables"):
        method.compress(x, VARIABLES, bounds_for(VARIABLES[:3], 1e-3))
    with pytest.raises(ConfigError):
        method.compress(x, VARIABLES, [1e-3] * 4)  # type: ignore[list-item]


@pytest.mark.parametrize("method", [Quantise(), Sz3(), Zfp()], ids=lambda m: m.name)
def test_bound_below_float32_resolution_is_a_config_error(method: Baseline, rng: np.random.Generator) -> None:
    x = fake_jets(rng, 50)
    bounds = (*bounds_for(VARIABLES[:3], 1e-3), ErrorBound("absolute", 1e-9))
    with pytest.raises(ConfigError, match="too small"):
        method.compress(x, VARIABLES, bounds)


def test_bad_input_raises_input_error(rng: np.random.Generator) -> None:
    x = fake_jets(rng, 20)
    bounds = bounds_for(VARIABLES, 1e-3)
    with pytest.raises(InputError, match="shape"):
        Sz3().compress(x[:, :3], VARIABLES, bounds)
    with pytest.raises(InputError, match="float32"):
        Sz3().compress(x.astype(np.float64), VARIABLES, bounds)
    with pytest.raises(InputError, match="no rows"):
        Zstd().compress(x[:0], VARIABLES)
    x[3, 2] = np.inf
    with pytest.raises(InputError, match="'eta'"):
        Quantise().compress(x, VARIABLES, bounds)


def test_corrupt_payloads_raise_container_error(rng: np.random.Generator) -> None:
    x = fake_jets(rng, 100)
    payload = Quantise().compress(x, VARIABLES, bounds_for(VARIABLES, 1e-3))
    with pytest.raises(ContainerError, match="magic"):
        Quantise().decompress(b"nope" + payload[4:])
    with pytest.raises(ContainerError, match="truncated"):
        Quantise().decompress(payload[:-10])
    with pytest.raises(ContainerError, match="quantise"):
        Sz3().decompress(payload)


class _Stubborn(Baseline):
    """Ignores the bound for ``bad_attempts`` attempts, then stores the column exactly."""

    name = "stubborn"
    family = "test"

    def __init__(self, bad_attempts: int) -> None:
        self.bad_attempts = bad_attempts

    def _encode(
        self, col: npt.NDArray[np.float32], variable: str, bound: ErrorBound | None, attempt: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        data = col if attempt >= self.bad_attempts else col + np.float32(1.0)
        return {}, [data.tobytes()]

    def _decode(self, params: dict[str, Any], parts: list[bytes], rows: int) -> npt.NDArray[np.float32]:
        return np.frombuffer(parts[0], dtype=np.float32).copy()


def test_a_column_over_its_bound_is_encoded_again(rng: np.random.Generator) -> None:
    x = fake_jets(rng, 10)
    bounds = bounds_for(VARIABLES, 1e-3)
    y = _Stubborn(2).decompress(_Stubborn(2).compress(x, VARIABLES, bounds))
    assert np.array_equal(x, y)
    with pytest.raises(BoundViolationError, match="could not keep 'E'"):
        _Stubborn(100).compress(x, VARIABLES, bounds)

"""The learned residual shapes and the coding tables of their scale classes
(models.conditional.shape): exact scales, tables of positive probabilities that sum to one,
distribution functions strictly increasing on the 2**-32 grid they are stored on."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest

from hepsqueeze.errors import ModelError
from hepsqueeze.models.conditional.shape import (
    FLOOR,
    GRID,
    MIN_EXPONENT,
    SCALE_CLASSES,
    SCALES_PER_OCTAVE,
    SPAN,
    check_cdf,
    class_table,
    evaluate,
    fit_cdf,
    sigma_bins,
    split_bits,
)

F64 = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def normal_cdf() -> F64:
    return fit_cdf(np.random.default_rng(1).normal(0, 1, 20_000))


# ----------------------------------------------------------------------------- scale classes


def test_sigma_bins_are_powers_of_the_fourth_root_of_two() -> None:
    assert SCALES_PER_OCTAVE == 4
    assert MIN_EXPONENT == -3
    for k in range(SCALE_CLASSES):
        want = 2.0 ** (MIN_EXPONENT + k / SCALES_PER_OCTAVE)
        assert abs(sigma_bins(k) - want) <= 1e-15 * want, k
    assert sigma_bins(0) == 0.125
    assert sigma_bins(12) == 1.0


def test_sigma_bins_double_exactly_every_octave() -> None:
    for k in range(SCALE_CLASSES - SCALES_PER_OCTAVE):
        assert sigma_bins(k + SCALES_PER_OCTAVE) == 2.0 * sigma_bins(k), k
        assert sigma_bins(k + 1) > sigma_bins(k), k
    for k in range(0, SCALE_CLASSES, SCALES_PER_OCTAVE):  # whole octaves are powers of two
        assert math.frexp(sigma_bins(k))[0] == 0.5, k


def test_the_largest_class_is_about_a_million_bins() -> None:
    assert 2.0**19 < sigma_bins(SCALE_CLASSES - 1) <= 2.0**20


def test_split_bits() -> None:
    """No split below 2**6 bins (k < 40), then one more bit per octave."""
    assert [split_bits(k) for k in range(40)] == [0] * 40
    assert split_bits(40) == 1
    for k in range(40, SCALE_CLASSES):
        assert split_bits(k) == (k - 36) // SCALES_PER_OCTAVE, k
        # what the table codes stays within [2**6, 2**7) bins per entry of scale
        assert 2.0**6 <= sigma_bins(k) / 2 ** split_bits(k) < 2.0**7, k


# ----------------------------------------------------------------------------- class tables


@pytest.mark.parametrize("k", [0, 1, 5, 12, 20, 39, 40, 41, 60, SCALE_CLASSES - 1])
def test_class_tables_are_distributions(normal_cdf: F64, k: int) -> None:
    p, radius, b = class_table(normal_cdf, k)
    assert p.dtype == np.float64
    assert p.shape == (2 * radius + 2,)  # -R..R, then the escape
    assert b == split_bits(k)
    assert (p >= FLOOR).all()
    assert np.isfinite(p).all()
    assert abs(float(p.sum()) - 1.0) <= FLOOR * p.size + 1e-12
    # a table spans SPAN scales: the escape is what the shape leaves beyond them
    assert radius == math.ceil(SPAN * sigma_bins(k) / 2**b) + 1
    assert p[-1] <= normal_cdf[0] + 1.0 - normal_cdf[-1] + FLOOR + 1e-12
    # no table is larger than about 2 * SPAN * 128 + 2 entries
    assert p.size <= 2 * SPAN * 128 + 2


def test_the_radius_grows_with_the_class(normal_cdf: F64) -> None:
    radii = [class_table(normal_cdf, k)[1] for k in range(SCALE_CLASSES)]
    assert radii[0] == 3  # ceil(12 / 8) + 1
    unsplit = radii[:40]
    assert all(a <= b for a, b in itertools.pairwise(unsplit))
    assert unsplit[-1] > 10 * unsplit[0]
    # with split bits, the table's radius repeats every octave
    for k in range(40, SCALE_CLASSES - SCALES_PER_OCTAVE):
        assert radii[k + SCALES_PER_OCTAVE] == radii[k], k


def test_narrow_classes_put_the_mass_near_the_centre(normal_cdf: F64) -> None:
    """A unit normal shape at a scale of one bin: the centre holds about erf(0.5 / sqrt 2)."""
    p, radius, b = class_table(normal_cdf, 12)
    assert b == 0
    centre = float(p[radius])
    assert 0.3 < centre < 0.45  # 0.383 for an exact normal (the shape is a fitted one)
    assert int(np.argmax(p[:-1])) == radius
    assert p[-1] < 1e-3


def test_class_tables_are_the_same_each_time(normal_cdf: F64) -> None:
    for k in (0, 17, 55):
        a, b = class_table(normal_cdf, k)[0], class_table(normal_cdf.copy(), k)[0]
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64))


@pytest.mark.parametrize("k", [-1, SCALE_CLASSES, 10**6])
def test_class_outside_the_range_is_refused(normal_cdf: F64, k: int) -> None:
    with pytest.raises(ModelError, match="scale class"):
        class_table(normal_cdf, k)


def test_evaluate_is_linear_between_grid_points(normal_cdf: F64) -> None:
    grid = np.linspace(-SPAN, SPAN, GRID)
    assert np.allclose(evaluate(normal_cdf, grid), normal_cdf, rtol=0, atol=1e-15)
    mid = 0.5 * (grid[:-1] + grid[1:])
    assert np.allclose(
        evaluate(normal_cdf, mid), 0.5 * (normal_cdf[:-1] + normal_cdf[1:]), rtol=0, atol=1e-15
    )
    outside = evaluate(normal_cdf, np.array([-1e9, -SPAN - 1, SPAN + 1, 1e9]))
    assert list(outside) == [normal_cdf[0], normal_cdf[0], normal_cdf[-1], normal_cdf[-1]]


# ----------------------------------------------------------------------------- fitted shapes


SAMPLES = {
    "empty": np.zeros(0),
    "constant": np.zeros(1000),
    "constant-off-grid": np.full(500, 0.0123),
    "one": np.array([3.0]),
    "normal": np.random.default_rng(2).normal(0, 1, 5000),
    "wide": np.random.default_rng(3).normal(0, 40, 5000),
    "far-below": np.full(100, -1e6),
    "far-above": np.full(100, 1e6),
    "non-finite": np.array([np.nan, np.inf, -np.inf, 0.5, -0.5]),
    "only-nan": np.full(10, np.nan),
    "heavy": np.random.default_rng(4).standard_cauchy(5000),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_fit_cdf_is_strictly_increasing_in_the_unit_interval(name: str) -> None:
    cdf = fit_cdf(SAMPLES[name])
    assert cdf.dtype == np.float64
    assert cdf.shape == (GRID,)
    assert (np.diff(cdf) > 0).all()
    assert cdf[0] > 0
    assert cdf[-1] < 1
    fixed = cdf * 2.0**32  # on the grid of stored values
    assert np.array_equal(fixed, np.rint(fixed))
    check_cdf(cdf, name)
    # every class's table is a distribution
    for k in (0, 12, 45):
        p = class_table(cdf, k)[0]
        assert (p > 0).all()
        assert abs(float(p.sum()) - 1.0) <= FLOOR * p.size + 1e-12


@pytest.mark.parametrize("prior", [0.0, 1e-6, 0.02, 1.0])
def test_fit_cdf_with_any_prior(prior: float) -> None:
    for sample in (np.zeros(100), np.random.default_rng(5).normal(0, 1, 300)):
        check_cdf(fit_cdf(sample, prior), "x")


def test_fit_cdf_follows_the_sample() -> None:
    u = np.random.default_rng(6).normal(0, 1, 50_000)
    cdf = fit_cdf(u)
    grid = np.linspace(-SPAN, SPAN, GRID)
    centre = GRID // 2
    assert grid[centre] == 0.0
    assert abs(cdf[centre] - 0.5) < 0.01
    assert abs(float(evaluate(cdf, np.array([1.0]))[0]) - 0.8413) < 0.01
    assert abs(float(evaluate(cdf, np.array([-2.0]))[0]) - 0.0228) < 0.01


def test_fit_cdf_ignores_what_is_not_finite() -> None:
    u = np.random.default_rng(7).normal(0, 1, 1000)
    noisy = np.concatenate([u, [np.nan, np.inf, -np.inf]])
    assert np.array_equal(fit_cdf(noisy), fit_cdf(u))


# ----------------------------------------------------------------------------- check_cdf


def test_check_cdf_refuses_a_non_monotone_table(normal_cdf: F64) -> None:
    bad = normal_cdf.copy()
    bad[200], bad[201] = bad[201], bad[200]
    with pytest.raises(ModelError, match=r"'col'.*not a distribution function"):
        check_cdf(bad, "col")
    flat = normal_cdf.copy()
    flat[201] = flat[200]  # not strictly increasing
    with pytest.raises(ModelError, match="not a distribution function"):
        check_cdf(flat, "col")


@pytest.mark.parametrize("size", [0, 1, GRID - 1, GRID + 1])
def test_check_cdf_refuses_a_wrong_length(size: int) -> None:
    cdf = np.linspace(0.1, 0.9, size)
    with pytest.raises(ModelError, match=rf"'col'.*{GRID} float64"):
        check_cdf(cdf, "col")


def test_check_cdf_refuses_another_dtype_or_shape(normal_cdf: F64) -> None:
    with pytest.raises(ModelError, match="float64"):
        check_cdf(normal_cdf.astype(np.float32), "col")
    with pytest.raises(ModelError, match="float64"):
        check_cdf(normal_cdf.reshape(1, GRID), "col")


@pytest.mark.parametrize(
    ("at", "value"),
    [(0, 0.0), (0, -1e-9), (-1, 1.0), (-1, 1.5), (100, np.nan), (100, np.inf), (0, -np.inf)],
)
def test_check_cdf_refuses_values_outside_the_open_unit_interval(
    normal_cdf: F64, at: int, value: float
) -> None:
    bad = normal_cdf.copy()
    bad[at] = value
    with pytest.raises(ModelError, match="not a distribution function"):
        check_cdf(bad, "col")


def test_check_cdf_accepts_the_extremes_of_the_stored_grid() -> None:
    i = np.arange(GRID, dtype=np.float64)
    check_cdf((1 + i) / 2.0**32, "low")
    check_cdf((2.0**32 - GRID + i) / 2.0**32, "high")

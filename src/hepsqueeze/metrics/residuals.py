"""Reconstruction metrics, as plain JSON-able dicts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.metrics.delta_phi import delta_phi

# Variables whose residual is relative, (out - in) / in, as in the prior work; others are absolute.
# A relative residual needs a non-zero input: where a variable of this set has zeros in the data
# (a jet's mass can be 0), its residuals are absolute instead (see `residual_kind`).
RELATIVE_VARIABLES: Final = frozenset({"e", "pt", "m", "lead_pt"})
# Variables compared with wrap-around at +-pi.
ANGULAR_VARIABLES: Final = frozenset({"phi"})


def residual_kind(variable: str, original: npt.NDArray[Any] | None = None) -> str:
    """``"relative"`` for energies, momenta and masses, ``"absolute"`` otherwise.

    With ``original`` given, a variable that takes the value 0 there gets ``"absolute"`` residuals.
    """
    if variable.lower() not in RELATIVE_VARIABLES:
        return "absolute"
    if original is not None and bool(np.any(np.asarray(original) == 0)):
        return "absolute"
    return "relative"


def residuals(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any], variable: str, kind: str | None = None
) -> npt.NDArray[np.float64]:
    """Per-value residual of one variable (phi wrapped): ``kind`` ``"relative"`` or ``"absolute"``,
    by default :func:`residual_kind` of the variable and these values (relative for E/pt/m without zeros)."""
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    diff = delta_phi(y, x) if variable.lower() in ANGULAR_VARIABLES else y - x
    if (kind or residual_kind(variable, x)) == "relative":
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = diff / x
    return diff


def residual_summary(
    original: npt.NDArray[Any],
    reconstructed: npt.NDArray[Any],
    variables: Sequence[str],
    integer: Collection[str] = (),
) -> dict[str, dict[str, Any]]:
    """Mean, std, RMS and max |.| of each variable's residual; arrays are ``(rows, len(variables))``.

    Variables named in ``integer`` also get ``exact_match``: the fraction of rows whose reconstruction
    rounded to the nearest integer equals the original.
    """
    out: dict[str, dict[str, Any]] = {}
    for j, var in enumerate(variables):
        r = residuals(original[:, j], reconstructed[:, j], var)
        r = r[np.isfinite(r)]
        n = int(r.size)
        out[var] = {
            "kind": residual_kind(var, original[:, j]),
            "n": n,
            "mean": float(r.mean()) if n else float("nan"),
            "std": float(r.std()) if n else float("nan"),
            "rms": float(np.sqrt(np.mean(r**2))) if n else float("nan"),
            "max_abs": float(np.abs(r).max()) if n else float("nan"),
        }
        if var in integer:
            out[var]["exact_match"] = exact_match_rate(original[:, j], reconstructed[:, j])
    return out


def exact_match_rate(original: npt.NDArray[Any], reconstructed: npt.NDArray[Any]) -> float:
    """Fraction of values whose reconstruction, rounded to the nearest integer, equals the original."""
    x = np.asarray(original, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    return float(np.mean(np.rint(np.asarray(reconstructed, dtype=np.float64)) == x))


def mse(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """Mean squared difference over all values."""
    if a.size == 0:
        return float("nan")
    return float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))


# ---------------------------------------------------------------------------------------------------
# Full per-variable metrics of the evaluation report (additive; the functions above keep their meaning).
# ---------------------------------------------------------------------------------------------------


def has_relative(variable: str) -> bool:
    """Whether a relative residual and a response are defined for ``variable`` (energies, momenta, masses)."""
    return variable.lower() in RELATIVE_VARIABLES


def absolute_residuals(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any], variable: str
) -> npt.NDArray[np.float64]:
    """``out - in`` in the variable's unit (GeV, rad, ...); phi wrapped into [-pi, pi)."""
    y, x = np.asarray(reconstructed, dtype=np.float64), np.asarray(original, dtype=np.float64)
    return delta_phi(y, x) if variable.lower() in ANGULAR_VARIABLES else y - x


def relative_residuals(
    original: npt.NDArray[Any], reconstructed: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """``(out - in) / in`` (dimensionless) for the rows where ``in != 0`` (other rows are dropped)."""
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    keep = x != 0
    out: npt.NDArray[np.float64] = (y[keep] - x[keep]) / x[keep]
    return out


def responses(original: npt.NDArray[Any], reconstructed: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """``out / in`` (dimensionless) for the rows where ``in != 0``."""
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    keep = x != 0
    out: npt.NDArray[np.float64] = y[keep] / x[keep]
    return out


def distribution_stats(values: npt.NDArray[Any]) -> dict[str, Any]:
    """Summary of a sample, non-finite values dropped.

    ``mean_err`` is the standard error std/sqrt(N), ``std_err`` the Gaussian std/sqrt(2N); ``width68`` and
    ``width95`` are half the widths of the central 68.27% and 95.45% intervals (``(q84.1 - q15.9) / 2``
    and ``(q97.7 - q2.3) / 2``), i.e. sigma and 2 sigma for a Gaussian. ``std`` is the population std.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    n = int(finite.size)
    nan = float("nan")
    if n == 0:
        return {
            "n": 0,
            "n_nonfinite": int(v.size),
            "mean": nan,
            "mean_err": nan,
            "std": nan,
            "std_err": nan,
            "rms": nan,
            "max_abs": nan,
            "median": nan,
            "width68": nan,
            "width95": nan,
        }
    mean = float(finite.mean())
    std = float(finite.std())
    q = np.quantile(finite, [0.02275, 0.158655, 0.5, 0.841345, 0.97725])
    return {
        "n": n,
        "n_nonfinite": int(v.size - n),
        "mean": mean,
        "mean_err": std / np.sqrt(n),
        "std": std,
        "std_err": std / np.sqrt(2.0 * n),
        "rms": float(np.sqrt(np.mean(finite**2))),
        "max_abs": float(np.abs(finite).max()),
        "median": float(q[2]),
        "width68": float((q[3] - q[1]) / 2.0),
        "width95": float((q[4] - q[0]) / 2.0),
    }


def ks_statistic(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest distance between the empirical CDFs.

    Non-finite values are dropped; NaN when either sample is empty.
    """
    x = np.sort(np.asarray(a, dtype=np.float64)[np.isfinite(a)])
    y = np.sort(np.asarray(b, dtype=np.float64)[np.isfinite(b)])
    if x.size == 0 or y.size == 0:
        return float("nan")
    grid = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, grid, side="right") / x.size
    cdf_y = np.searchsorted(y, grid, side="right") / y.size
    return float(np.max(np.abs(cdf_x - cdf_y)))


def variable_metrics(
    original: npt.NDArray[Any],
    reconstructed: npt.NDArray[Any],
    variable: str,
    *,
    normalised: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = None,
    integer: bool = False,
) -> dict[str, Any]:
    """Every metric of one variable, JSON-able.

    ``residual``: statistics of ``out - in`` (phi wrapped); ``relative_residual`` and ``response``:
    of ``(out - in) / in`` and ``out / in`` where ``in != 0``, only for E/pt/m-like variables (else
    None); ``mse``: mean squared ``out - in``; ``mse_normalised``: the same on ``normalised`` (the pair
    of arrays in the model's normalised space, or standardised), None without it; ``ks``: two-sample KS
    statistic between the input and output distributions; ``input``/``output``: their mean and std;
    ``exact_match`` (only with ``integer``): the fraction of rounded outputs equal to the input.
    """
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    res = absolute_residuals(x, y, variable)
    finite = res[np.isfinite(res)]
    out: dict[str, Any] = {
        "kind": residual_kind(variable, x),
        "n": int(x.size),
        "residual": distribution_stats(res),
        "relative_residual": None,
        "response": None,
        "mse": float(np.mean(finite**2)) if finite.size else float("nan"),
        "mse_normalised": None,
        "ks": ks_statistic(x, y),
        "input": {"mean": _finite_mean(x), "std": _finite_std(x)},
        "output": {"mean": _finite_mean(y), "std": _finite_std(y)},
    }
    if has_relative(variable):
        rel = relative_residuals(x, y)
        out["relative_residual"] = distribution_stats(rel)
        out["relative_residual"]["n_zero_input"] = int(x.size - rel.size)
        resp = distribution_stats(responses(x, y))
        out["response"] = {
            k: resp[k] for k in ("n", "mean", "mean_err", "std", "std_err", "median", "width68")
        }
    if normalised is not None:
        d = np.asarray(normalised[1], dtype=np.float64) - np.asarray(normalised[0], dtype=np.float64)
        d = d[np.isfinite(d)]
        out["mse_normalised"] = float(np.mean(d**2)) if d.size else float("nan")
    if integer:
        out["exact_match"] = exact_match_rate(x, y)
    return out


def _finite_mean(x: npt.NDArray[np.float64]) -> float:
    f = x[np.isfinite(x)]
    return float(f.mean()) if f.size else float("nan")


def _finite_std(x: npt.NDArray[np.float64]) -> float:
    f = x[np.isfinite(x)]
    return float(f.std()) if f.size else float("nan")


def binned_stats(
    x: npt.NDArray[Any], values: npt.NDArray[Any], edges: npt.NDArray[Any]
) -> dict[str, list[float]]:
    """Statistics of ``values`` in bins of ``x`` (e.g. the response vs true pt), JSON-able lists.

    Per bin: ``count``, ``mean`` with ``mean_err``, ``std``, ``median`` and ``width68`` (half the
    central 68.27% interval). Rows with non-finite ``x`` or ``values``, or outside ``edges``, are dropped;
    empty bins give NaN.
    """
    xs = np.asarray(x, dtype=np.float64)
    vs = np.asarray(values, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    ok = np.isfinite(xs) & np.isfinite(vs) & (xs >= e[0]) & (xs <= e[-1])
    xs, vs = xs[ok], vs[ok]
    idx = np.clip(np.searchsorted(e, xs, side="right") - 1, 0, e.size - 2)
    order = np.argsort(idx, kind="stable")
    idx, vs = idx[order], vs[order]
    bounds = np.searchsorted(idx, np.arange(e.size), side="left")
    out: dict[str, list[float]] = {
        "edges": [float(v) for v in e],
        "count": [],
        "mean": [],
        "mean_err": [],
        "std": [],
        "median": [],
        "width68": [],
    }
    for k in range(e.size - 1):
        part = vs[bounds[k] : bounds[k + 1]]
        n = part.size
        if n == 0:
            stats = [0.0] + [float("nan")] * 5
        else:
            q = np.quantile(part, [0.158655, 0.5, 0.841345])
            std = float(part.std())
            stats = [
                float(n),
                float(part.mean()),
                std / np.sqrt(n),
                std,
                float(q[1]),
                float((q[2] - q[0]) / 2),
            ]
        for key, val in zip(("count", "mean", "mean_err", "std", "median", "width68"), stats, strict=True):
            out[key].append(val)
    return out

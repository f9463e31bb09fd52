"""Whether decoded values meet their bound, judged in the column's own dtype.

The codecs code in float32 or float64 arithmetic, but a user's column may be float16, float64 or an
integer type; what must meet the bound is the value a reader gets back in that dtype. This module
is the one judge of that, used by the writers before they publish a file (values that miss are
stored exactly) and by the tests.

The comparison is conservative: the error and the allowance are computed in float64 (the error of
two integers exactly, through uint64), each with a rounding error of at most 2^-52 of itself, and a
value passes only if its error is below the allowance shrunk by :data:`SAFETY`. A value that
passes therefore meets the bound in exact arithmetic, with :data:`ULP_SPARE` float64 ulps to
spare for text outputs. Non-finite originals (NaN with any payload,
+-inf) pass only bit for bit; so does any value under a bound of zero.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import InputError
from hepsqueeze.metrics.bounds import ErrorBound

#: The allowance is shrunk by this factor: more than the float64 rounding of error and allowance.
SAFETY: Final = 1.0 - 1e-15
#: Float64 ulps of the original a passing value keeps to spare below its bound.
ULP_SPARE: Final = 4

Mask = npt.NDArray[np.bool_]


def bits(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The values' bit patterns as unsigned integers of their width (native byte order)."""
    arr = np.ascontiguousarray(values)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind == "b":
        return arr.view(np.uint8)
    return arr.view(f"u{arr.dtype.itemsize}")


def misses(
    original: npt.NDArray[Any], decoded: npt.NDArray[Any], bound: ErrorBound, floor: float = 0.0
) -> Mask:
    """Where ``decoded`` (the column's dtype) is neither bit-identical to ``original`` nor within
    ``bound`` of it: ``|y - x| <= value * |x|`` (relative) or ``<= value`` (absolute), or ``<= floor``
    where an absolute floor is given. No wrapping: an angle must come back on its own branch."""
    if original.shape != decoded.shape or original.dtype.kind != decoded.dtype.kind:
        raise InputError(
            f"cannot compare {original.dtype}{original.shape} with {decoded.dtype}{decoded.shape}"
        )
    same = bits(original) == bits(decoded)
    x, d = _error(original, decoded)
    with np.errstate(invalid="ignore", over="ignore"):
        allowed = bound.value * np.abs(x) if bound.kind == "relative" else np.full_like(x, bound.value)
        if floor:
            np.maximum(allowed, floor, out=allowed)
        # with ULP_SPARE float64 ulps to spare: a text writer that cannot reproduce a value
        # exactly (DarkMachines MeV fields: 1 ulp) keeps it in bound
        ok = d + ULP_SPARE * np.spacing(np.abs(x)) <= allowed * SAFETY
    ok &= np.isfinite(x)
    result: Mask = ~(same | ok)
    return result


def _error(original: npt.NDArray[Any], decoded: npt.NDArray[Any]) -> tuple[npt.NDArray[np.float64], Any]:
    """The originals and ``|y - x|``, both float64 (inf where the difference overflows)."""
    if original.dtype.kind in "iu":
        # exact: the difference of two 64-bit integers fits in uint64 (modular arithmetic)
        a = original.astype(np.int64 if original.dtype.kind == "i" else np.uint64)
        b = decoded.astype(a.dtype)
        hi, lo = np.maximum(a, b), np.minimum(a, b)
        d = hi.astype(np.uint64) - lo.astype(np.uint64)
        return original.astype(np.float64), d.astype(np.float64)
    if original.dtype.kind == "b":
        x = original.astype(np.float64)
        return x, np.abs(decoded.astype(np.float64) - x)
    # a signalling NaN warns when cast ("invalid value"): it is compared bit for bit anyway
    with np.errstate(invalid="ignore", over="ignore"):
        x = original.astype(np.float64)
        return x, np.abs(decoded.astype(np.float64) - x)


__all__ = ["SAFETY", "ULP_SPARE", "bits", "misses"]

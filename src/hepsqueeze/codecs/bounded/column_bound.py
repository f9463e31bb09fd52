"""The bound of one column, as the column codec codes it and the writer checks it.

A :class:`ColumnBound` is what :class:`~hepsqueeze.codecs.bounded.precision.Precision` resolves a
column's name and dtype to: absolute (``|y - x| <= value``, in the column's unit), relative
(``|y - x| <= value * |x|``, or within ``floor`` where one is given), lossless (bit for bit: integer
and boolean columns always, float columns when asked or when no term names them). ``angle`` marks a
column whose decoded values must stay on the input's branch of the angle. ``bits`` records a bound
given as mantissa bits (``12b``: the relative bound ``2**-13`` that rounding to 12 bits gives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from hepsqueeze.errors import ConfigError, ContainerError
from hepsqueeze.metrics.bounds import ErrorBound

#: Most mantissa bits a ``Nb`` bound may ask for (float64 has 52).
MAX_MANTISSA_BITS: Final = 52


class BoundMode(StrEnum):
    """How a column's decoded values may differ from the original."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    LOSSLESS = "lossless"


def mantissa_bound(bits: int) -> float:
    """The relative bound that rounding to ``bits`` mantissa bits gives: ``2**-(bits + 1)``."""
    return math.ldexp(1.0, -(bits + 1))


@dataclass(frozen=True)
class ColumnBound:
    """One column's bound; ``term`` is the precision term that set it (``None``: the default rule
    of a single number, or an integer column's exactness)."""

    mode: BoundMode
    value: float = 0.0
    floor: float = 0.0
    angle: bool = False
    bits: int | None = None
    term: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.mode, BoundMode):
            raise ConfigError(f"bound mode must be a BoundMode, got {self.mode!r}")
        value = self.value
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"a bound must be a finite number, got {value!r}")
        if self.mode == BoundMode.LOSSLESS:
            if value != 0:
                raise ConfigError("a lossless bound has no value")
        elif value <= 0:
            raise ConfigError(f"a bound must be > 0, got {value!r}")
        if self.mode == BoundMode.RELATIVE and value >= 1:
            raise ConfigError(f"a relative bound must be below 1, got {value!r}")
        floor = self.floor
        if not isinstance(floor, int | float) or not math.isfinite(floor) or floor < 0:
            raise ConfigError(f"an absolute floor must be finite and >= 0, got {floor!r}")
        if floor and self.mode != BoundMode.RELATIVE:
            raise ConfigError("an absolute floor applies to relative bounds only")
        if self.bits is not None and not (
            isinstance(self.bits, int)
            and 0 <= self.bits <= MAX_MANTISSA_BITS
            and self.mode == BoundMode.RELATIVE
        ):
            raise ConfigError(
                f"mantissa bits must be 0-{MAX_MANTISSA_BITS} on a relative bound, got {self.bits!r}"
            )
        object.__setattr__(self, "value", float(value))
        object.__setattr__(self, "floor", float(floor))

    @property
    def lossless(self) -> bool:
        return self.mode == BoundMode.LOSSLESS

    def error_bound(self) -> ErrorBound:
        """The :class:`ErrorBound` the bound check takes (not for lossless bounds)."""
        if self.mode == BoundMode.LOSSLESS:
            raise ConfigError("a lossless column has no error bound")
        return ErrorBound("relative" if self.mode == BoundMode.RELATIVE else "absolute", self.value)

    def describe(self) -> str:
        """Short text: ``1e-03 relative``, ``12 mantissa bits``, ``0.001 absolute (angle)``, ``lossless``."""
        if self.mode == BoundMode.LOSSLESS:
            return "lossless"
        text = (
            f"{self.bits} mantissa bits" if self.bits is not None else f"{self.value:.3g} {self.mode.value}"
        )
        if self.floor:
            text += f", floor {self.floor:.3g}"
        return text + (" (angle)" if self.angle else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode.value}
        if self.mode != BoundMode.LOSSLESS:
            out["value"] = self.value
        if self.floor:
            out["floor"] = self.floor
        if self.angle:
            out["angle"] = True
        if self.bits is not None:
            out["bits"] = self.bits
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ColumnBound:
        """The bound of a header's JSON; :class:`ContainerError` if it is not one."""
        problem = _dict_problem(data)
        if problem:
            raise ContainerError(f"invalid column bound {str(data)[:80]}: {problem}")
        try:
            return cls(
                BoundMode(data["mode"]),
                data.get("value", 0.0),
                data.get("floor", 0.0),
                data.get("angle", False),
                data.get("bits"),
            )
        except (ValueError, ConfigError) as exc:
            raise ContainerError(f"invalid column bound {str(data)[:80]}: {exc}") from None


def _dict_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or "mode" not in data:
        return "not a bound object"
    if set(data) - {"mode", "value", "floor", "angle", "bits"}:
        return "unknown keys"
    bits, angle = data.get("bits"), data.get("angle", False)
    if not isinstance(angle, bool) or (bits is not None and type(bits) is not int):
        return "bad angle or bits"
    if type(data.get("value", 0.0)) not in (int, float) or type(data.get("floor", 0.0)) not in (int, float):
        return "bad value or floor"
    return None


#: Integer and boolean columns, and float columns stored bit for bit.
LOSSLESS: Final = ColumnBound(BoundMode.LOSSLESS)

__all__ = ["LOSSLESS", "MAX_MANTISSA_BITS", "BoundMode", "ColumnBound", "mantissa_bound"]

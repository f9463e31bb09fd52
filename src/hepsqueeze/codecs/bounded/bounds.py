"""The bounds of the error-bounded jet codec: relative on E and pt, absolute on eta and phi.

:class:`JetBounds` is what a file's header stores under ``codec.bounds`` (``to_dict`` /
``from_dict``) and what :mod:`hepsqueeze.codecs.bounded.spec` parses the user's text into.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from hepsqueeze.errors import ConfigError, ContainerError
from hepsqueeze.metrics.bounds import ErrorBound

#: The codec's variables, in the order of its columns.
VARIABLES: Final = ("E", "pt", "eta", "phi")


@dataclass(frozen=True)
class JetBounds:
    """The bound of each of E, pt (relative) and eta, phi (absolute)."""

    E: ErrorBound
    pt: ErrorBound
    eta: ErrorBound
    phi: ErrorBound
    #: Absolute floors (GeV) of the relative bounds: a value passes if its error is within
    #: ``max(eps |x|, floor)``, so values with ``|x| <= floor`` (zeros included) decode as 0.
    E_floor: float = 0.0
    pt_floor: float = 0.0

    def __post_init__(self) -> None:
        for name in ("E_floor", "pt_floor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"the absolute floor of {name[:-6]} must be finite and >= 0, got {value!r}")
        for name in ("E", "pt"):
            if getattr(self, name).kind != "relative":
                raise ConfigError(f"the bounded jet codec needs a relative bound on {name}")
        for name in ("eta", "phi"):
            if getattr(self, name).kind != "absolute":
                raise ConfigError(f"the bounded jet codec needs an absolute bound on {name}")
        if self.phi.value >= math.pi / 2:
            raise ConfigError(f"a phi bound of {self.phi.value} rad leaves nothing to code")

    @classmethod
    def uniform(cls, eps: float) -> JetBounds:
        """``eps`` relative on E and pt, ``eps`` absolute on eta and phi."""
        return cls(
            ErrorBound("relative", eps),
            ErrorBound("relative", eps),
            ErrorBound("absolute", eps),
            ErrorBound("absolute", eps),
        )

    def floor(self, variable: str) -> float:
        """The absolute floor of ``variable`` (0 for eta and phi, and where none was given)."""
        return float(getattr(self, f"{variable}_floor", 0.0))

    def to_dict(self) -> dict[str, Any]:
        out = {v: getattr(self, v).as_dict() for v in VARIABLES}
        for v in ("E", "pt"):
            if self.floor(v):
                out[v]["abs_floor"] = self.floor(v)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> JetBounds:
        try:
            bounds = [ErrorBound(str(data[v]["kind"]), float(data[v]["value"])) for v in VARIABLES]  # type: ignore[arg-type]
            floors = [float(data[v].get("abs_floor", 0.0)) for v in ("E", "pt")]
            e, pt, eta, phi = bounds
            return cls(e, pt, eta, phi, E_floor=floors[0], pt_floor=floors[1])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ContainerError(f"invalid bounds in bounded-codec payload: {exc}") from None


__all__ = ["VARIABLES", "JetBounds"]

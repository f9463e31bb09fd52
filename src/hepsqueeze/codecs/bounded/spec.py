"""The one parser of the bounded jet codec's maximum error and absolute floor, for the API and the CLI.

The maximum error (:func:`parse_max_error`) is one of:

- one number, as text (``"1e-3"``) or a float: relative on E and pt, absolute on eta and phi
  (:meth:`JetBounds.uniform`); it must be below 1, being relative on E and pt;
- one ``NAME=VALUE`` term per variable, ``"E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3"``: E and pt take a
  relative bound (``r`` after the number), eta and phi an absolute one (no ``r``), as the codec
  codes them;
- a mapping of every variable to a term's value as text (``{"pt": "1e-3r", "eta": "1e-3"}``), to a
  number (taken as the single number is: relative on E and pt, absolute on eta and phi) or to an
  :class:`~hepsqueeze.metrics.bounds.ErrorBound`;
- a :class:`JetBounds`, returned as it is (its floors replaced by an absolute floor if one is given).

The absolute floor (:func:`parse_abs_floor`, GeV, for the relative bounds of E and pt) is one
number for both (``"0.01"`` or a float), ``E=VALUE`` and/or ``pt=VALUE`` terms (``"E=0.01,pt=0.02"``)
or a mapping ``{"E": 0.01}``; a floor not given is 0.

Every mistake is one :class:`~hepsqueeze.errors.ConfigError` whose one-line message says what is
wrong with which variable. The text language is exactly that of the CLI's earlier parser: every text
it accepted gives the same bounds, and every text it refused is refused.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from hepsqueeze.codecs.bounded.bounds import VARIABLES, JetBounds
from hepsqueeze.codecs.bounded.precision import is_number, parse_number, quoted
from hepsqueeze.errors import ConfigError, nearest_names
from hepsqueeze.metrics.bounds import BoundKind, ErrorBound

#: What :func:`parse_max_error` takes.
MaxErrorSpec: TypeAlias = "str | float | Mapping[str, str | float | ErrorBound] | JetBounds"
#: What :func:`parse_abs_floor` takes.
FloorSpec: TypeAlias = "str | float | Mapping[str, str | float]"

#: The variables the codec bounds relative to each value; the others are bounded in their unit.
RELATIVE_VARIABLES: Final = ("E", "pt")
#: The variables an absolute floor applies to (those with relative bounds).
FLOOR_VARIABLES: Final = RELATIVE_VARIABLES
#: A relative bound must stay below this (an error of 100% leaves nothing of the value).
RELATIVE_LIMIT: Final = 1.0
#: A phi bound must stay below this (rad): a quarter turn either way leaves nothing to code.
PHI_LIMIT: Final = math.pi / 2
#: The example of the term form the messages show.
TERMS_EXAMPLE: Final = "E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3"

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
_VALUE = re.compile(r"\s*([0-9.eE+-]+)\s*(r?)\s*")
_TERM_SEPARATOR = ","
_ASSIGN = "="
_RELATIVE_SUFFIX = "r"


def parse_max_error(spec: MaxErrorSpec, abs_floor: FloorSpec | None = None) -> JetBounds:
    """The bounds the maximum error ``spec`` and the absolute floor ``abs_floor`` describe.

    See the module documentation for the forms both take. Raises :class:`ConfigError` with a
    one-line message for every mistake: a bound that is zero, negative, not finite or not a
    number, a relative bound of 1 or more, a phi bound of pi/2 or more, an ``r`` on eta or phi or
    none on E or pt, an unknown, repeated or missing variable, an empty term, a bad floor.
    """
    if isinstance(spec, JetBounds):
        bounds = spec
    elif isinstance(spec, str):
        bounds = _parse_text(spec)
    elif isinstance(spec, Mapping):
        bounds = _parse_mapping(spec)
    elif is_number(spec):
        bounds = _uniform(float(spec), str(spec))
    else:
        raise ConfigError(
            "a maximum error must be a number, NAME=VALUE terms, a mapping of variables to bounds "
            f"or JetBounds, not {type(spec).__name__}"
        )
    if abs_floor is None:
        return bounds
    floors = parse_abs_floor(abs_floor)
    return dataclasses.replace(bounds, E_floor=floors["E"], pt_floor=floors["pt"])


def parse_abs_floor(spec: FloorSpec) -> dict[str, float]:
    """The absolute floor (GeV) of E and of pt that ``spec`` describes: ``{"E": ..., "pt": ...}``.

    ``spec`` is one number for both (text or a float), ``E=VALUE`` and/or ``pt=VALUE`` terms, or a
    mapping of ``E`` and/or ``pt`` to numbers; a floor not given is 0. A floor must be a finite
    number >= 0; :class:`ConfigError` otherwise, and for an unknown, repeated or empty term.
    """
    if isinstance(spec, str):
        text = spec.strip()
        number = parse_number(text)
        if number is not None:
            return dict.fromkeys(FLOOR_VARIABLES, _floor_value(number, text, None))
        given = _floor_terms(spec, text)
    elif isinstance(spec, Mapping):
        given = _floor_mapping(spec)
    elif is_number(spec):
        return dict.fromkeys(FLOOR_VARIABLES, _floor_value(float(spec), str(spec), None))
    else:
        raise ConfigError(
            f"an absolute floor must be a number, E=VALUE,pt=VALUE terms or a mapping, not {type(spec).__name__}"
        )
    return {v: given.get(v, 0.0) for v in FLOOR_VARIABLES}


def _floor_terms(spec: str, text: str) -> dict[str, float]:
    """The floors of ``E=VALUE,pt=VALUE`` text."""
    if not text:
        raise ConfigError("the absolute floor is empty: give one number (GeV) or E=VALUE,pt=VALUE terms")
    if _ASSIGN not in text:
        raise ConfigError(
            f"the absolute floor {quoted(spec)} is neither a number nor E=VALUE,pt=VALUE terms (e.g. E=0.01,pt=0.01)"
        )
    given: dict[str, float] = {}
    for term in text.split(_TERM_SEPARATOR):
        if not term.strip():
            raise ConfigError(f"the absolute floor {quoted(spec)} has an empty term (check the commas)")
        name_text, sep, value_text = term.partition(_ASSIGN)
        if not sep:
            raise ConfigError(f"the absolute floor term {quoted(term.strip())} is not E=VALUE or pt=VALUE")
        name = _floor_name(name_text.strip(), term)
        if name in given:
            raise ConfigError(f"the absolute floor of {name} is given twice in {quoted(spec)}")
        number = parse_number(value_text)
        if number is None:
            raise ConfigError(f"the absolute floor of {name}, {quoted(value_text.strip())}, is not a number")
        given[name] = _floor_value(number, value_text.strip(), name)
    return given


def _floor_mapping(spec: Mapping[Any, object]) -> dict[str, float]:
    """The floors of a mapping of E and/or pt to numbers (or numbers as text)."""
    given: dict[str, float] = {}
    for key, raw in spec.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"the absolute floor's variable names must be strings, got {key!r} ({type(key).__name__})"
            )
        name = _floor_name(key, key)
        if isinstance(raw, str):
            number = parse_number(raw)
            if number is None:
                raise ConfigError(f"the absolute floor of {name}, {quoted(raw)}, is not a number")
            given[name] = _floor_value(number, raw.strip(), name)
        elif is_number(raw):
            given[name] = _floor_value(float(raw), str(raw), name)
        else:
            raise ConfigError(f"the absolute floor of {name} must be a number, not {type(raw).__name__}")
    return given


# ----------------------------------------------------------------------------- maximum error


def _parse_text(spec: str) -> JetBounds:
    text = spec.strip()
    number = parse_number(text)
    if number is not None:
        return _uniform(number, text)
    if not text:
        raise ConfigError(
            f"the maximum error is empty: give one number (e.g. 1e-3) or NAME=VALUE terms (e.g. {TERMS_EXAMPLE})"
        )
    if _ASSIGN not in text:
        if text.endswith(_RELATIVE_SUFFIX) and parse_number(text[: -len(_RELATIVE_SUFFIX)]) is not None:
            raise ConfigError(
                f"a single maximum error takes no 'r' (it is relative on E and pt and absolute on eta and phi "
                f"already): give {text[: -len(_RELATIVE_SUFFIX)].strip()}, not {text}"
            )
        raise ConfigError(
            f"the maximum error {quoted(spec)} is neither a number nor NAME=VALUE terms "
            f"(e.g. 1e-3, or {TERMS_EXAMPLE})"
        )
    bounds: dict[str, ErrorBound] = {}
    for term in text.split(_TERM_SEPARATOR):
        if not term.strip():
            raise ConfigError(f"the maximum error {quoted(spec)} has an empty term (check the commas)")
        name_text, sep, value_text = term.partition(_ASSIGN)
        if not sep:
            raise ConfigError(
                f"the maximum error term {quoted(term.strip())} is not NAME=VALUE or NAME=VALUEr (e.g. pt=1e-3r)"
            )
        name = _variable(name_text, term)
        if name in bounds:
            raise ConfigError(f"the maximum error of {name} is given twice in {quoted(spec)}")
        bounds[name] = _term_bound(name, value_text)
    return _complete(bounds)


def _parse_mapping(spec: Mapping[str, object]) -> JetBounds:
    bounds: dict[str, ErrorBound] = {}
    for key, raw in spec.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"the maximum error's variable names must be strings, got {key!r} ({type(key).__name__})"
            )
        name = _variable(key, key)
        if isinstance(raw, ErrorBound):
            bounds[name] = _checked(name, raw.kind, raw.value, f"{raw.kind} {raw.value!r}", repr(raw.value))
        elif isinstance(raw, str):
            bounds[name] = _term_bound(name, raw)
        elif is_number(raw):
            bounds[name] = _checked(name, _natural_kind(name), float(raw), str(raw), str(raw))
        else:
            raise ConfigError(
                f"the maximum error of {name} must be a number, a term's value such as '1e-3r' or an "
                f"ErrorBound, not {type(raw).__name__}"
            )
    return _complete(bounds)


def _uniform(value: float, text: str) -> JetBounds:
    if not math.isfinite(value):
        raise ConfigError(f"a maximum error must be a finite number, got {text}")
    if value <= 0:
        raise ConfigError(f"a maximum error must be positive, got {text}")
    if value >= RELATIVE_LIMIT:
        raise ConfigError(
            f"a single maximum error must be below {RELATIVE_LIMIT:g} (it is relative on E and pt), got {text}"
        )
    return JetBounds.uniform(value)


def _variable(text: str, term: str) -> str:
    """The variable ``text`` names (ConfigError naming the known ones, and the nearest, if none)."""
    match = _NAME.fullmatch(text)
    if match is None:
        if not text.strip():
            raise ConfigError(f"the maximum error term {quoted(term.strip())} names no variable")
        name = text.strip()
    else:
        name = match.group(1)
        if name in VARIABLES:
            return name
    near = nearest_names(name, VARIABLES, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise ConfigError(
        f"the maximum error names {quoted(name)}, which is not a jet variable ({', '.join(VARIABLES)}){hint}"
    )


def _term_bound(name: str, text: str) -> ErrorBound:
    """The bound of ``name`` a term's value ``text`` (``1e-3r`` or ``1e-3``) gives."""
    shown = text.strip()
    match = _VALUE.fullmatch(text)
    value = None if match is None else parse_number(match.group(1))
    if match is None or value is None:
        raise ConfigError(
            f"the maximum error of {name}, {quoted(shown)}, is not a number "
            "(with 'r' after it for a relative bound, e.g. 1e-3r)"
        )
    kind: BoundKind = "relative" if match.group(2) == _RELATIVE_SUFFIX else "absolute"
    return _checked(name, kind, value, f"{match.group(1)}{match.group(2)}", match.group(1))


def _checked(name: str, kind: str, value: float, text: str, number: str) -> ErrorBound:
    """``ErrorBound(kind, value)`` for variable ``name``, or a ConfigError saying what is wrong.

    ``text`` is the bound as given and ``number`` its number, as given, for the messages.
    """
    if not math.isfinite(value):
        raise ConfigError(f"the maximum error of {name} must be a finite number, got {text}")
    if value <= 0:
        raise ConfigError(f"the maximum error of {name} must be positive, got {text}")
    natural = _natural_kind(name)
    if kind != natural:
        if natural == "relative":
            raise ConfigError(
                f"the maximum error of {name} must be relative ('r' after the number, e.g. {number}r): "
                "the codec bounds E and pt relative to each value"
            )
        raise ConfigError(
            f"the maximum error of {name} must be absolute (no 'r' after the number, e.g. {number}): "
            "the codec bounds eta and phi in their units"
        )
    if kind == "relative" and value >= RELATIVE_LIMIT:
        raise ConfigError(
            f"the relative maximum error of {name} must be below {RELATIVE_LIMIT:g}, got {text}"
        )
    if name == "phi" and value >= PHI_LIMIT:
        raise ConfigError(f"the maximum error of phi must be below pi/2 ({PHI_LIMIT:.4f} rad), got {text}")
    return ErrorBound(natural, value)


def _complete(bounds: Mapping[str, ErrorBound]) -> JetBounds:
    missing = [v for v in VARIABLES if v not in bounds]
    if missing:
        raise ConfigError(
            f"the maximum error gives no bound for {', '.join(missing)} "
            f"(give one number, or a bound for each of {', '.join(VARIABLES)})"
        )
    return JetBounds(bounds["E"], bounds["pt"], bounds["eta"], bounds["phi"])


def _natural_kind(name: str) -> BoundKind:
    return "relative" if name in RELATIVE_VARIABLES else "absolute"


# ----------------------------------------------------------------------------- absolute floor


def _floor_name(name: str, term: str) -> str:
    if name in FLOOR_VARIABLES:
        return name
    if name in VARIABLES:
        raise ConfigError(
            f"the absolute floor names {name}, but floors apply to the relative bounds of E and pt only"
        )
    if not name:
        raise ConfigError(f"the absolute floor term {quoted(term.strip())} is not E=VALUE or pt=VALUE")
    near = nearest_names(name, FLOOR_VARIABLES, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise ConfigError(f"the absolute floor names {quoted(name)}, not E or pt{hint}")


def _floor_value(value: float, text: str, name: str | None) -> float:
    what = "an absolute floor" if name is None else f"the absolute floor of {name}"
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {text}")
    if value < 0:
        raise ConfigError(f"{what} must be >= 0 (GeV), got {text}")
    return value


__all__ = [
    "FLOOR_VARIABLES",
    "PHI_LIMIT",
    "RELATIVE_LIMIT",
    "RELATIVE_VARIABLES",
    "TERMS_EXAMPLE",
    "FloorSpec",
    "MaxErrorSpec",
    "parse_abs_floor",
    "parse_max_error",
]

"""The precision of every column of a file, by column name: the parser of the column codec's bounds.

A :class:`Precision` maps a column's *name* (never its position) and dtype to the
:class:`~hepsqueeze.codecs.bounded.column_bound.ColumnBound` the column codec codes it within
(:meth:`Precision.resolve`). :func:`parse_precision` makes one from any of these forms:

- **terms**, as text: comma-separated ``PATTERN=BOUND`` terms, ``"*_pt=1e-3r,*_eta=1e-3,Jet_mass=lossless"``.
  ``PATTERN`` is a column name or a glob (``*_pt``, ``Jet_*``, ``Muon_pfRelIso0?_all``; matched with
  :func:`fnmatch.fnmatchcase`, so case counts) of letters, digits and ``_ * ? [ ] . -``. The first
  term whose pattern matches a column sets its bound; a pattern may appear once. ``BOUND`` is one of

  - ``1e-3``: absolute, ``|y - x| <= 1e-3`` in the column's unit;
  - ``1e-3r``: relative, ``|y - x| <= 1e-3 * |x|`` (below 1);
  - ``12b``: the relative bound ``2**-(12 + 1)`` that rounding the mantissa to 12 bits gives, as the
    NanoAOD table producers' ``precision=12`` does (0 to 52 bits);
  - ``lossless``: bit for bit.

  The jet codec's text ``E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3`` is terms too (of four exact names).
- **one number** (``"1e-3"`` or ``1e-3``), the *default*: a bound for every float column, relative
  on columns named like energies, momenta and masses (:func:`is_relative_name`: ``E``, ``pt``,
  ``m``, ``mass``, ``MET``, ``sumEt``, ``*_E``, ``*_pt``, ``*_m``, ``*_mass``, ``*_sumEt``) and
  absolute on the others; it must be below 1. A number may also stand among terms
  (``"1e-3,Jet_mass=lossless"``), wherever it is written: it is the default of the columns that no
  term names, the terms being tried first.
- **a mapping** of patterns to bounds, in order: ``{"*_pt": "1e-3r", "Jet_eta": 1e-3}``. A bound
  is a term's text or a number; a number is taken as the default number is: relative where the
  pattern itself is named like an energy, momentum or mass (``*_pt``), absolute otherwise.
- **a precision file** (TOML, :func:`load_precision_file`), or a shipped preset (:func:`preset`).
- a :class:`Precision`, taken as it is.

Integer and boolean columns (every dtype but floating point) are always stored exactly, whatever a
term says: ``*=1e-3`` bounds the float columns and leaves the others exact. A float column that no
term names, where there is no default number, is stored losslessly: :meth:`Precision.unbound` lists
such columns, and with ``require_bounds`` :meth:`Precision.check` refuses them.

**Angles.** A column is an angle when its name says so (:func:`is_angle_name`: ``phi``, ``METphi``
and ``*_phi``; ``eta`` is not an angle) or when it matches one of the precision's ``angles``
patterns. An angle's bound must be absolute (in radians) and below pi/2: a relative or bits term on
an angle is a :class:`~hepsqueeze.errors.ConfigError` (when the term is resolved for the column),
and the default number is absolute on angles.

**Absolute floors** (``abs_floor``, in each column's unit) let a relative bound fall back to an
absolute one near zero, ``|y - x| <= max(value * |x|, floor)``: one number for every relative
column, ``PATTERN=VALUE`` terms (first match wins) or a mapping of patterns to numbers. They apply to
relative columns only.

**Precision files.** A precision file is TOML, UTF-8::

    # hepsqueeze precision file
    version = 1                # required: the format's version, 1
    default = 1e-3             # optional: the default number (above), a number or its text
    angles = ["Jet_alpha"]     # optional: patterns of further angle columns
    require_bounds = false     # optional: refuse float columns no term names

    [bounds]                   # optional: the terms, in order (the first match wins)
    "Jet_pt" = "10b"           # a term's bound as text ...
    "*_eta" = 1e-3             # ... or a number (absolute, unless the pattern is named like pt)
    "Jet_mass" = "lossless"

    [floors]                   # optional: absolute floors of relative bounds, first match wins
    "*_pt" = 0.01

Patterns with ``*``, ``?``, ``[`` or ``.`` must be quoted, being TOML keys. An unknown key, a value of
the wrong type, another version or a file that is not TOML is a ``ConfigError`` naming the file and
the key (or TOML's line and column).

Every mistake is one ``ConfigError`` with a one-line message naming the term or column.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Final, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt
import tomllib

from hepsqueeze.codecs.bounded.column_bound import (
    LOSSLESS,
    MAX_MANTISSA_BITS,
    BoundMode,
    ColumnBound,
    mantissa_bound,
)
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError, nearest_names

#: An angle's absolute bound must stay below this (rad): a quarter turn either way leaves nothing to code.
ANGLE_LIMIT: Final = math.pi / 2
#: A relative bound (and the default number, relative on energies) must stay below this.
RELATIVE_LIMIT: Final = 1.0
#: Mantissa bits of a float32: :func:`mantissa_bits_for` answers at most this many by default.
FLOAT32_MANTISSA_BITS: Final = 23
#: The version of the precision file format this module reads.
PRECISION_FILE_VERSION: Final = 1
#: The shipped presets (:func:`preset`).
PRESETS: Final[tuple[str, ...]] = ("nanoaod",)
#: The example of the term form the messages show.
TERMS_EXAMPLE: Final = "*_pt=1e-3r,*_eta=1e-3,*_phi=1e-3"

#: What :func:`parse_precision` takes.
PrecisionSpec: TypeAlias = "str | float | Mapping[str, str | float] | Precision"
#: What :func:`parse_precision` takes as ``abs_floor``.
FloorSpec: TypeAlias = "str | float | Mapping[str, str | float]"
#: A precision file's path.
PathLike: TypeAlias = "str | os.PathLike[str]"

#: Names of energies, momenta and masses, exactly (the default number is relative on these).
RELATIVE_NAMES: Final[tuple[str, ...]] = ("E", "pt", "m", "mass", "MET", "sumEt", "lead_pt")
#: Suffixes of names of energies, momenta and masses.
RELATIVE_SUFFIXES: Final[tuple[str, ...]] = ("_E", "_pt", "_m", "_mass", "_sumEt")
#: Names of angles, exactly.
ANGLE_NAMES: Final[tuple[str, ...]] = ("phi", "METphi")
#: Suffixes of names of angles.
ANGLE_SUFFIXES: Final[tuple[str, ...]] = ("_phi",)

_PATTERN = re.compile(r"[A-Za-z0-9_*?\[\].\-]+")
_WHOLE = re.compile(r"\s*[+-]?[0-9]+\s*")
_SUFFIXED = re.compile(r"(.*?[0-9.])\s*([A-Za-z]+)", re.DOTALL)
_LOSSLESS_WORD = "lossless"
_RELATIVE_SUFFIX = "r"
_BITS_SUFFIX = "b"
_SEPARATOR = ","
_ASSIGN = "="
_DEFAULT_RULE = "relative for energies, momenta, masses; absolute otherwise"
_FILE_KEYS: Final = ("version", "default", "angles", "require_bounds", "bounds", "floors")
_CONFIG_KEYS: Final = ("terms", "default", "angles", "floors", "require_bounds")
_TERM_KEYS: Final = ("pattern", "mode", "value", "bits", "text")


def is_angle_name(name: str) -> bool:
    """Whether ``name`` is named like an angle: ``phi``, ``METphi`` or ``*_phi`` (case counts).

    ``eta``, ``Jet_eta`` and ``alpha`` are not angles; declare other angle columns in the
    precision's ``angles``.
    """
    return name in ANGLE_NAMES or name.endswith(ANGLE_SUFFIXES)


def is_relative_name(name: str) -> bool:
    """Whether ``name`` is named like an energy, momentum or mass, bounded relative to each value.

    ``E``, ``pt``, ``m``, ``mass``, ``MET``, ``sumEt``, ``lead_pt`` and the names ending in ``_E``,
    ``_pt``, ``_m``, ``_mass`` or ``_sumEt`` (case counts: ``Jet_PT`` is not).
    """
    return name in RELATIVE_NAMES or name.endswith(RELATIVE_SUFFIXES)


@dataclass(frozen=True)
class PrecisionTerm:
    """One ``PATTERN=BOUND`` term: the bound of the columns ``pattern`` matches first.

    ``pattern`` is a column name or a glob (:func:`fnmatch.fnmatchcase`); ``mode`` absolute,
    relative or lossless; ``value`` the bound (0 for lossless); ``bits`` the mantissa bits of a
    ``12b`` term (``value`` is then ``mantissa_bound(bits)``); ``text`` the term as written, for
    messages and listings (made from the others when not given).
    """

    pattern: str
    mode: BoundMode
    value: float = 0.0
    bits: int | None = None
    text: str = ""

    def __post_init__(self) -> None:
        _check_pattern(self.pattern, "a precision term")
        if not isinstance(self.mode, BoundMode):
            raise ConfigError(f"the precision of {quoted(self.pattern)} has no bound mode, got {self.mode!r}")
        if self.bits is not None:
            if type(self.bits) is not int or self.mode != BoundMode.RELATIVE:
                raise ConfigError(
                    f"the precision of {quoted(self.pattern)} gives mantissa bits {self.bits!r} "
                    "on a bound that is not relative"
                )
            _check_bits(self.pattern, self.bits, f"{self.bits}{_BITS_SUFFIX}")
            if self.value not in (0.0, mantissa_bound(self.bits)):
                raise ConfigError(
                    f"the precision of {quoted(self.pattern)}, {self.bits} bits, has the value {self.value!r}, "
                    f"not {mantissa_bound(self.bits)!r}"
                )
            object.__setattr__(self, "value", mantissa_bound(self.bits))
        if not is_number(self.value):
            raise ConfigError(f"the precision of {quoted(self.pattern)} must be a number, got {self.value!r}")
        value = float(self.value)
        if self.mode == BoundMode.LOSSLESS:
            if value != 0:
                raise ConfigError(f"the lossless precision of {quoted(self.pattern)} takes no value")
        else:
            _check_value(self.pattern, self.mode, value, _number_text(value))
        object.__setattr__(self, "value", value)
        if not isinstance(self.text, str):
            raise ConfigError(f"the text of the precision of {quoted(self.pattern)} must be a string")
        if not self.text:
            object.__setattr__(self, "text", f"{self.pattern}{_ASSIGN}{self.bound_text()}")

    def bound_text(self) -> str:
        """The bound as a term writes it: ``1e-3``, ``1e-3r``, ``12b`` or ``lossless``."""
        if self.mode == BoundMode.LOSSLESS:
            return _LOSSLESS_WORD
        if self.bits is not None:
            return f"{self.bits}{_BITS_SUFFIX}"
        suffix = _RELATIVE_SUFFIX if self.mode == BoundMode.RELATIVE else ""
        return _number_text(self.value) + suffix

    def matches(self, name: str) -> bool:
        """Whether the term's pattern matches the column name ``name`` (case counts)."""
        return fnmatch.fnmatchcase(name, self.pattern)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pattern": self.pattern, "mode": self.mode.value}
        if self.mode != BoundMode.LOSSLESS:
            out["value"] = self.value
        if self.bits is not None:
            out["bits"] = self.bits
        out["text"] = self.text
        return out


@dataclass(frozen=True)
class Precision:
    """The precision of every column, by name: terms (first match wins), a default number,
    further angle patterns, absolute floors of relative bounds, and whether every float column
    must be named (see the module documentation)."""

    terms: tuple[PrecisionTerm, ...] = ()
    default: float | None = None
    angles: tuple[str, ...] = ()
    floors: tuple[tuple[str, float], ...] = ()
    require_bounds: bool = False

    def __post_init__(self) -> None:
        terms = tuple(self.terms)
        for term in terms:
            if not isinstance(term, PrecisionTerm):
                raise ConfigError(f"a precision's terms must be PrecisionTerms, got {term!r}")
        _check_repeats(terms)
        object.__setattr__(self, "terms", terms)
        if self.default is not None:
            if not is_number(self.default):
                raise ConfigError(f"the default precision must be a number, got {self.default!r}")
            object.__setattr__(self, "default", _check_default(float(self.default), str(self.default)))
        if isinstance(self.angles, str):
            raise ConfigError(
                f"a precision's angles must be a sequence of patterns, not the string {self.angles!r}"
            )
        angles = tuple(self.angles)
        for pattern in angles:
            _check_pattern(pattern, "an angle pattern")
        object.__setattr__(self, "angles", angles)
        object.__setattr__(self, "floors", _checked_floors(self.floors))
        if not isinstance(self.require_bounds, bool):
            raise ConfigError(f"require_bounds must be True or False, got {self.require_bounds!r}")
        for term in terms:  # a term whose own pattern is an angle's name: refused before any column
            if self.is_angle(term.pattern):
                _check_angle_term(term, f"the pattern {term.pattern!r} names angles")

    # ------------------------------------------------------------------------- columns

    def is_angle(self, name: str) -> bool:
        """Whether column ``name`` is an angle: named like one, or matching one of ``angles``."""
        return is_angle_name(name) or any(fnmatch.fnmatchcase(name, p) for p in self.angles)

    def term_for(self, name: str) -> PrecisionTerm | None:
        """The first term whose pattern matches column ``name``, or ``None``."""
        for term in self.terms:
            if term.matches(name):
                return term
        return None

    def floor_for(self, name: str) -> float:
        """The absolute floor of column ``name``'s relative bound: the first matching floor's, or 0."""
        for pattern, value in self.floors:
            if fnmatch.fnmatchcase(name, pattern):
                return value
        return 0.0

    def resolve(self, name: str, dtype: npt.DTypeLike) -> ColumnBound:
        """The bound of column ``name`` of dtype ``dtype``.

        Integer, boolean and other non-float columns: :data:`LOSSLESS`, whatever the terms say. A
        float column: the first matching term's bound (``term`` set to its text), else the default
        number's (relative on energies, momenta and masses, absolute otherwise; ``term`` ``None``),
        else lossless. Raises :class:`ConfigError` for a relative or bits bound on an angle, or an
        angle's absolute bound of pi/2 or more.
        """
        if np.dtype(dtype).kind != "f":
            return LOSSLESS
        angle = self.is_angle(name)
        term = self.term_for(name)
        if term is not None:
            if term.mode == BoundMode.LOSSLESS:
                return ColumnBound(BoundMode.LOSSLESS, term=term.text)
            if angle:
                _check_angle_term(term, f"column {name!r} is an angle")
            floor = self.floor_for(name) if term.mode == BoundMode.RELATIVE else 0.0
            return ColumnBound(term.mode, term.value, floor, angle, term.bits, term.text)
        if self.default is not None:
            if is_relative_name(name) and not angle:
                return ColumnBound(BoundMode.RELATIVE, self.default, self.floor_for(name))
            return ColumnBound(BoundMode.ABSOLUTE, self.default, angle=angle)
        return LOSSLESS

    def unbound(self, columns: Mapping[str, npt.DTypeLike]) -> list[str]:
        """The float columns of ``columns`` (name to dtype) that no term names and no default
        number bounds, in order: those stored losslessly for want of a bound."""
        if self.default is not None:
            return []
        return [
            name
            for name, dtype in columns.items()
            if np.dtype(dtype).kind == "f" and self.term_for(name) is None
        ]

    def check(self, columns: Mapping[str, npt.DTypeLike], source: str) -> None:
        """With ``require_bounds``, raise :class:`ColumnError` listing the float columns of ``source``
        (a file, for the message) that no term names; without, do nothing."""
        if not self.require_bounds:
            return
        missing = self.unbound(columns)
        if not missing:
            return
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise ColumnError(
            f"{source}: no precision term names the float column{'s' if len(missing) > 1 else ''} {shown} "
            "and bounds are required (name them, e.g. with a PATTERN=BOUND term or PATTERN=lossless, "
            "or give a default number)",
            path=source,
            column=missing[0],
        )

    # ------------------------------------------------------------------------- text and JSON

    def describe(self) -> str:
        """The precision in short: ``*_pt=1e-3r,*_eta=1e-3``, or
        ``1e-3 (relative for energies, momenta, masses; absolute otherwise)``."""
        parts = [term.text for term in self.terms]
        if self.default is not None:
            parts.append(f"{_number_text(self.default)} ({_DEFAULT_RULE})")
        text = _SEPARATOR.join(parts) if parts else "lossless"
        if self.floors:
            text += "; absolute floor " + _SEPARATOR.join(
                f"{p}{_ASSIGN}{_number_text(v)}" for p, v in self.floors
            )
        if self.angles:
            text += "; angles " + _SEPARATOR.join(self.angles)
        if self.require_bounds:
            text += "; bounds required"
        return text

    def to_config(self) -> dict[str, Any]:
        """The precision as JSON-ready data; :meth:`from_config` reads it back."""
        return {
            "terms": [term.to_dict() for term in self.terms],
            "default": self.default,
            "angles": list(self.angles),
            "floors": [[p, v] for p, v in self.floors],
            "require_bounds": self.require_bounds,
        }

    @classmethod
    def from_config(cls, data: Any) -> Precision:
        """The precision of :meth:`to_config`'s data; :class:`ContainerError` if it is not one."""
        try:
            return cls._from_config(data)
        except (ConfigError, TypeError, ValueError, KeyError) as exc:
            raise ContainerError(f"invalid stored precision: {exc}") from None

    @classmethod
    def _from_config(cls, data: Any) -> Precision:
        if not isinstance(data, dict):
            raise ConfigError(f"not an object: {str(data)[:80]}")
        unknown = sorted(set(data) - set(_CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown keys {', '.join(map(str, unknown))}")
        terms = data.get("terms", [])
        angles = data.get("angles", [])
        floors = data.get("floors", [])
        if not all(isinstance(x, list) for x in (terms, angles, floors)):
            raise ConfigError("terms, angles and floors must be lists")
        if not all(isinstance(p, str) for p in angles):
            raise ConfigError("angles must be strings")
        if not all(isinstance(f, list) and len(f) == 2 and isinstance(f[0], str) for f in floors):
            raise ConfigError("floors must be [pattern, value] pairs")
        return cls(
            tuple(_term_from_dict(t) for t in terms),
            data.get("default"),
            tuple(angles),
            tuple((p, v) for p, v in floors),
            data.get("require_bounds", False),
        )


def _checked_floors(floors: Sequence[Any]) -> tuple[tuple[str, float], ...]:
    """``floors`` as ``(pattern, value)`` pairs, checked."""
    checked: list[tuple[str, float]] = []
    for entry in floors:
        if not (isinstance(entry, tuple | list) and len(entry) == 2):
            raise ConfigError(f"an absolute floor must be a (pattern, value) pair, got {entry!r}")
        pattern, value = entry
        _check_pattern(pattern, "an absolute floor")
        if not is_number(value):
            raise ConfigError(f"the absolute floor of {quoted(pattern)} must be a number, got {value!r}")
        checked.append((pattern, _floor_value(float(value), _number_text(float(value)), pattern)))
    _check_floor_repeats(checked)
    return tuple(checked)


def _term_from_dict(data: Any) -> PrecisionTerm:
    if not isinstance(data, dict) or "pattern" not in data or "mode" not in data:
        raise ConfigError(f"not a precision term: {str(data)[:80]}")
    unknown = sorted(set(data) - set(_TERM_KEYS))
    if unknown:
        raise ConfigError(f"unknown term keys {', '.join(map(str, unknown))}")
    bits = data.get("bits")
    if bits is not None and type(bits) is not int:
        raise ConfigError(f"bad bits {bits!r}")
    text = data.get("text", "")
    if not isinstance(data["pattern"], str) or not isinstance(text, str):
        raise ConfigError("pattern and text must be strings")
    return PrecisionTerm(data["pattern"], BoundMode(data["mode"]), data.get("value", 0.0), bits, text)


# ----------------------------------------------------------------------------- parsing


def parse_precision(
    spec: PrecisionSpec | None = None,
    *,
    precision_file: PathLike | None = None,
    abs_floor: FloorSpec | None = None,
    require_bounds: bool = False,
) -> Precision:
    """The :class:`Precision` that ``spec``, ``precision_file``, ``abs_floor`` and ``require_bounds`` describe.

    ``spec`` takes the forms of the module documentation. ``precision_file`` is a TOML precision
    file (:func:`load_precision_file`) or the name of a shipped preset (:data:`PRESETS`, where no
    file of that name exists). With both, ``spec``'s terms come first, so they override the file's
    (a file's term of a pattern ``spec`` names is dropped), and ``spec``'s default number, if any,
    replaces the file's. Neither: every float column is stored losslessly. ``abs_floor`` replaces
    the floors; ``require_bounds`` set here or in the file requires every float column named.
    Raises :class:`ConfigError` with a one-line message for every mistake.
    """
    if not isinstance(require_bounds, bool):
        raise ConfigError(f"require_bounds must be True or False, got {require_bounds!r}")
    precision = _parse_spec(spec) if spec is not None else Precision()
    if precision_file is not None:
        precision = _merge(precision, _file_or_preset(precision_file))
    if abs_floor is not None:
        precision = replace(precision, floors=parse_abs_floor(abs_floor))
    if require_bounds and not precision.require_bounds:
        precision = replace(precision, require_bounds=True)
    return precision


def _file_or_preset(path: PathLike) -> Precision:
    """The precision file ``path``, or the preset of that name where no such file exists."""
    if isinstance(path, str) and path in PRESETS and not os.path.exists(path):
        return preset(path)
    return load_precision_file(path)


def parse_abs_floor(spec: FloorSpec) -> tuple[tuple[str, float], ...]:
    """The absolute floors ``spec`` describes, as ``(pattern, value)`` pairs (first match wins).

    One number (text or a float) is the floor of every relative column (``(("*", value),)``);
    ``PATTERN=VALUE`` terms or a mapping of patterns to numbers give floors by column. A floor must
    be a finite number >= 0; :class:`ConfigError` otherwise, and for an empty or repeated term.
    """
    if isinstance(spec, str):
        text = spec.strip()
        number = parse_number(text)
        if number is not None:
            return (("*", _floor_value(number, text, None)),)
        return _floor_terms(spec, text)
    if isinstance(spec, Mapping):
        return _floor_mapping(spec)
    if is_number(spec):
        return (("*", _floor_value(float(spec), str(spec), None)),)
    raise ConfigError(
        f"an absolute floor must be a number, PATTERN=VALUE terms or a mapping, not {type(spec).__name__}"
    )


def load_precision_file(path: PathLike) -> Precision:
    """The :class:`Precision` of the TOML precision file ``path`` (format in the module documentation).

    Raises :class:`ConfigError`, naming the file, if it cannot be read, is not TOML (with TOML's
    line and column), has an unknown key, a value of the wrong type or another version.
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"precision file {where} does not exist", path=where) from None
    except OSError as exc:
        raise ConfigError(
            f"precision file {where} cannot be read: {exc.strerror or exc}", path=where
        ) from None
    return _load_toml(raw, f"precision file {where}", where)


def preset(name: str) -> Precision:
    """The shipped preset ``name`` (one of :data:`PRESETS`); :class:`ConfigError` naming the known
    ones otherwise.

    ``nanoaod``: the precisions the CMS NanoAOD table producers keep (their ``precision=`` mantissa
    bits) for NanoAOD's branch names, as bounds; columns it does not name stay lossless.
    """
    if not isinstance(name, str) or name not in PRESETS:
        near = nearest_names(str(name), PRESETS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"unknown precision preset {name!r} (known: {', '.join(PRESETS)}){hint}")
    return _preset(name)


@functools.cache
def _preset(name: str) -> Precision:
    raw = resources.files("hepsqueeze.codecs.bounded.presets").joinpath(f"{name}.toml")
    return _load_toml(raw.read_bytes(), f"precision preset {name}", None)


def mantissa_bits_for(bound: ColumnBound, max_abs: float, *, max_bits: int = FLOAT32_MANTISSA_BITS) -> int:
    """The fewest mantissa bits whose rounding (to nearest) meets ``bound``, as NanoAOD's reduced
    precision stores a column.

    Relative: the smallest ``N`` with ``2**-(N + 1) <= value`` (a bits bound: its bits); a floor
    is ignored (rounding meets the relative bound without it). Absolute, ``max_abs`` being the
    largest ``|x|`` of the column: the smallest ``N`` with ``2**(floor(log2(max_abs)) - N) / 2 <=
    value`` (half the spacing of ``N``-bit mantissas at the largest exponent; smaller values err
    less); 0 where ``max_abs`` is 0. Lossless: ``max_bits``. The answer is clipped to
    ``0..max_bits``, 23 by default (a float32's mantissa; ``max_bits`` bits keep float32 values
    exactly, so a clipped answer still meets the bound on float32 data; give 52 for float64).
    """
    if type(max_bits) is not int or not 0 <= max_bits <= MAX_MANTISSA_BITS:
        raise ConfigError(f"max_bits must be a whole number from 0 to {MAX_MANTISSA_BITS}, got {max_bits!r}")
    if bound.mode == BoundMode.LOSSLESS:
        return max_bits
    if bound.bits is not None:
        return min(bound.bits, max_bits)
    if bound.mode == BoundMode.RELATIVE:
        exponent = 0
    else:
        if not is_number(max_abs) or not math.isfinite(max_abs) or max_abs < 0:
            raise ConfigError(f"the largest |value| must be a finite number >= 0, got {max_abs!r}")
        if max_abs == 0:
            return 0
        exponent = math.frexp(float(max_abs))[1] - 1  # floor(log2(max_abs)), exactly
    bits = 0
    while bits < max_bits and math.ldexp(1.0, exponent - bits - 1) > bound.value:
        bits += 1
    return bits


def _parse_spec(spec: PrecisionSpec) -> Precision:
    if isinstance(spec, Precision):
        return spec
    if isinstance(spec, str):
        return _parse_text(spec)
    if isinstance(spec, Mapping):
        return Precision(_mapping_terms(spec, "the precision"))
    if is_number(spec):
        value = float(spec)
        return Precision(default=_check_default(value, str(spec)))
    raise ConfigError(
        "a precision must be a number, PATTERN=BOUND terms, a mapping of patterns to bounds or a "
        f"Precision, not {type(spec).__name__}"
    )


def _parse_text(spec: str) -> Precision:
    text = spec.strip()
    if not text:
        raise ConfigError(
            f"the precision is empty: give one number (e.g. 1e-3) or PATTERN=BOUND terms (e.g. {TERMS_EXAMPLE})"
        )
    terms: list[PrecisionTerm] = []
    default: tuple[float, str] | None = None
    for part in text.split(_SEPARATOR):
        term_text = part.strip()
        if not term_text:
            raise ConfigError(f"the precision {quoted(spec)} has an empty term (check the commas)")
        pattern, sep, bound = term_text.partition(_ASSIGN)
        if sep:
            terms.append(_term(pattern.strip(), bound, term_text))
            continue
        number = parse_number(term_text)
        if number is None:
            raise ConfigError(_not_a_term_message(term_text))
        if default is not None:
            raise ConfigError(
                f"the precision {quoted(spec)} gives two default numbers, {default[1]} and {term_text}: give one"
            )
        default = (_check_default(number, term_text), term_text)
    _check_repeats(terms)
    return Precision(tuple(terms), None if default is None else default[0])


def _not_a_term_message(text: str) -> str:
    """The message for a term with no ``=`` that is not a number either."""
    for suffix, what in ((_RELATIVE_SUFFIX, "relative"), (_BITS_SUFFIX, "bits")):
        if text.endswith(suffix) and parse_number(text[: -len(suffix)]) is not None:
            return (
                f"a default precision number takes no {suffix!r} (it is relative on energies, momenta and "
                f"masses and absolute otherwise): give {text[: -len(suffix)].strip()}, or *={text} for a "
                f"{what} bound on every float column"
            )
    return (
        f"the precision term {quoted(text)} is neither PATTERN=BOUND (e.g. {text.strip()}=1e-3r) "
        "nor a number (the default)"
    )


def _mapping_terms(spec: Mapping[Any, Any], what: str) -> tuple[PrecisionTerm, ...]:
    """The terms of a mapping of patterns to bounds (a term's text, or a number)."""
    terms: list[PrecisionTerm] = []
    for key, raw in spec.items():
        if not isinstance(key, str):
            raise ConfigError(f"{what}'s patterns must be strings, got {key!r} ({type(key).__name__})")
        pattern = key.strip()
        if isinstance(raw, str):
            terms.append(_term(pattern, raw, f"{pattern}{_ASSIGN}{raw.strip()}"))
        elif is_number(raw):
            value = float(raw)
            mode = BoundMode.RELATIVE if is_relative_name(pattern) else BoundMode.ABSOLUTE
            shown = _number_text(value) if isinstance(raw, float) else str(raw)
            _check_pattern(pattern, f"the precision term {quoted(pattern + _ASSIGN + shown)}")
            _check_value(pattern, mode, value, shown)
            terms.append(PrecisionTerm(pattern, mode, value, None, f"{pattern}{_ASSIGN}{shown}"))
        else:
            raise ConfigError(
                f"the precision of {quoted(pattern)} must be a bound such as '1e-3r', '12b' or 'lossless', "
                f"or a number, not {_type_name(raw)}"
            )
    _check_repeats(terms)
    return tuple(terms)


def _term(pattern: str, bound: str, text: str) -> PrecisionTerm:
    """The term ``PATTERN=BOUND`` (``text`` as written, for messages)."""
    _check_pattern(pattern, f"the precision term {quoted(text)}")
    mode, value, bits = _parse_bound(pattern, bound)
    return PrecisionTerm(pattern, mode, value, bits, text)


def _parse_bound(pattern: str, text: str) -> tuple[BoundMode, float, int | None]:
    """(mode, value, bits) of a term's bound ``text``: ``1e-3``, ``1e-3r``, ``12b`` or ``lossless``."""
    shown = text.strip()
    if shown.lower() == _LOSSLESS_WORD:
        return BoundMode.LOSSLESS, 0.0, None
    number = parse_number(shown)
    if number is not None:
        _check_value(pattern, BoundMode.ABSOLUTE, number, shown)
        return BoundMode.ABSOLUTE, number, None
    if shown.endswith(_BITS_SUFFIX) and parse_number(shown[:-1]) is not None:
        if not _WHOLE.fullmatch(shown[:-1]):
            raise ConfigError(
                f"the precision of {quoted(pattern)}, {shown}, must be a whole number of mantissa bits "
                f"from 0 to {MAX_MANTISSA_BITS}"
            )
        bits = int(shown[:-1])
        _check_bits(pattern, bits, shown)
        return BoundMode.RELATIVE, mantissa_bound(bits), bits
    if shown.endswith(_RELATIVE_SUFFIX):
        relative = parse_number(shown[:-1])
        if relative is not None:
            _check_value(pattern, BoundMode.RELATIVE, relative, shown)
            return BoundMode.RELATIVE, relative, None
    if not shown:
        raise ConfigError(f"the precision of {quoted(pattern)} is empty (give e.g. {pattern}=1e-3r)")
    suffixed = _SUFFIXED.fullmatch(shown)
    if suffixed is not None and parse_number(suffixed.group(1)) is not None:
        raise ConfigError(
            f"the precision of {quoted(pattern)}, {quoted(shown)}, has the unknown suffix {suffixed.group(2)!r} "
            "('r' for relative, 'b' for mantissa bits, none for absolute)"
        )
    near = nearest_names(shown, [_LOSSLESS_WORD], n=1) if shown.isalpha() else []
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise ConfigError(
        f"the precision of {quoted(pattern)}, {quoted(shown)}, is not a bound (a number for an absolute bound, "
        f"with 'r' for a relative one, bits with 'b' as in 12b, or 'lossless'){hint}"
    )


def _floor_terms(spec: str, text: str) -> tuple[tuple[str, float], ...]:
    if not text:
        raise ConfigError("the absolute floor is empty: give one number or PATTERN=VALUE terms")
    floors: list[tuple[str, float]] = []
    for part in text.split(_SEPARATOR):
        term = part.strip()
        if not term:
            raise ConfigError(f"the absolute floor {quoted(spec)} has an empty term (check the commas)")
        pattern, sep, value_text = term.partition(_ASSIGN)
        if not sep:
            raise ConfigError(
                f"the absolute floor term {quoted(term)} is neither PATTERN=VALUE (e.g. *_pt=0.01) nor a number"
            )
        pattern = pattern.strip()
        _check_pattern(pattern, f"the absolute floor term {quoted(term)}")
        number = parse_number(value_text)
        if number is None:
            raise ConfigError(
                f"the absolute floor of {quoted(pattern)}, {quoted(value_text.strip())}, is not a number"
            )
        floors.append((pattern, _floor_value(number, value_text.strip(), pattern)))
    _check_floor_repeats(floors)
    return tuple(floors)


def _floor_mapping(spec: Mapping[Any, Any]) -> tuple[tuple[str, float], ...]:
    floors: list[tuple[str, float]] = []
    for key, raw in spec.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"the absolute floor's patterns must be strings, got {key!r} ({type(key).__name__})"
            )
        pattern = key.strip()
        _check_pattern(pattern, "an absolute floor")
        if isinstance(raw, str):
            number = parse_number(raw)
            if number is None:
                raise ConfigError(
                    f"the absolute floor of {quoted(pattern)}, {quoted(raw.strip())}, is not a number"
                )
            floors.append((pattern, _floor_value(number, raw.strip(), pattern)))
        elif is_number(raw):
            floors.append((pattern, _floor_value(float(raw), str(raw), pattern)))
        else:
            raise ConfigError(
                f"the absolute floor of {quoted(pattern)} must be a number, not {_type_name(raw)}"
            )
    _check_floor_repeats(floors)
    return tuple(floors)


def _merge(first: Precision, then: Precision) -> Precision:
    """``first``'s terms, then ``then``'s of other patterns; ``first``'s default, else ``then``'s."""
    named = {term.pattern for term in first.terms}
    return Precision(
        first.terms + tuple(t for t in then.terms if t.pattern not in named),
        first.default if first.default is not None else then.default,
        first.angles + tuple(p for p in then.angles if p not in first.angles),
        first.floors or then.floors,
        first.require_bounds or then.require_bounds,
    )


# ----------------------------------------------------------------------------- precision files


def _load_toml(raw: bytes, where: str, path: str | None) -> Precision:
    """The precision of a precision file's bytes; ``where`` names it in messages."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (byte {exc.start})", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}", path=path) from None
    try:
        return _from_file_data(data, where)
    except ConfigError as exc:
        if str(exc).startswith(where):
            raise ConfigError(str(exc), path=path) from None
        raise ConfigError(f"{where}: {exc}", path=path) from None


def _from_file_data(data: dict[str, Any], where: str) -> Precision:
    unknown = [key for key in data if key not in _FILE_KEYS]
    if unknown:
        near = nearest_names(unknown[0], _FILE_KEYS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"{where} has the unknown key {unknown[0]!r} (keys: {', '.join(_FILE_KEYS)}){hint}")
    _check_file_version(data, where)
    angles = data.get("angles", [])
    if not isinstance(angles, list) or not all(isinstance(p, str) for p in angles):
        raise ConfigError(f"{where}: key 'angles' must be a list of patterns (strings)")
    for pattern in angles:
        _check_pattern(pattern, f"{where}: key 'angles', the pattern {quoted(pattern)}")
    require_bounds = data.get("require_bounds", False)
    if not isinstance(require_bounds, bool):
        raise ConfigError(
            f"{where}: key 'require_bounds' must be true or false, not {_type_name(require_bounds)}"
        )
    bounds, floors = _file_table(data, "bounds", where), _file_table(data, "floors", where)
    try:
        terms = _mapping_terms(bounds, "the [bounds] table")
        floor_pairs = _floor_mapping(floors) if floors else ()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return Precision(terms, _file_default(data, where), tuple(angles), floor_pairs, require_bounds)


def _check_file_version(data: dict[str, Any], where: str) -> None:
    if "version" not in data:
        raise ConfigError(f"{where} has no version (write version = {PRECISION_FILE_VERSION} at the top)")
    version = data["version"]
    if type(version) is not int:
        raise ConfigError(f"{where}: key 'version' must be a whole number, not {_type_name(version)}")
    if version != PRECISION_FILE_VERSION:
        raise ConfigError(
            f"{where} has version {version}, which this version of hepsqueeze does not read "
            f"(it reads version {PRECISION_FILE_VERSION})"
        )


def _file_default(data: dict[str, Any], where: str) -> float | None:
    default = data.get("default")
    if default is None:
        return None
    if isinstance(default, str):
        number = parse_number(default)
        if number is None:
            raise ConfigError(f"{where}: key 'default', {quoted(default)}, is not a number")
        return _check_default(number, default.strip())
    if is_number(default):
        return _check_default(float(default), str(default))
    raise ConfigError(f"{where}: key 'default' must be a number, not {_type_name(default)}")


def _file_table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """The ``[bounds]`` or ``[floors]`` table of a precision file (empty if absent)."""
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: key {key!r} must be a table ([{key}]), not {_type_name(table)}")
    for name, value in table.items():
        if isinstance(value, dict):
            inner = f"{name}.{next(iter(value), 'pt')}"
            raise ConfigError(
                f"{where}: key '{key}.{name}' is a table, not a value (quote a pattern with dots: \"{inner}\" = ...)"
            )
    return table


# ----------------------------------------------------------------------------- checks


def _check_pattern(pattern: object, what: str) -> None:
    if not isinstance(pattern, str):
        raise ConfigError(f"{what} has a pattern that is not a string: {pattern!r}")
    if not pattern:
        raise ConfigError(f"{what} names no column (write PATTERN=BOUND, e.g. *_pt=1e-3r)")
    if _PATTERN.fullmatch(pattern) is None:
        bad = next(c for c in pattern if _PATTERN.fullmatch(c) is None)
        raise ConfigError(
            f"the precision pattern {quoted(pattern)} has the character {bad!r} (patterns take letters, digits "
            "and _ * ? [ ] . -)"
        )


def _check_value(pattern: str, mode: BoundMode, value: float, shown: str) -> None:
    if not math.isfinite(value):
        raise ConfigError(f"the precision of {quoted(pattern)} must be a finite number, got {shown}")
    if value <= 0:
        raise ConfigError(f"the precision of {quoted(pattern)} must be positive, got {shown}")
    if mode == BoundMode.RELATIVE and value >= RELATIVE_LIMIT:
        raise ConfigError(
            f"the relative precision of {quoted(pattern)} must be below {RELATIVE_LIMIT:g}, got {shown}"
        )


def _check_bits(pattern: str, bits: int, shown: str) -> None:
    if not 0 <= bits <= MAX_MANTISSA_BITS:
        hint = " (for every bit, write lossless)" if bits < 0 else ""
        raise ConfigError(
            f"the precision of {quoted(pattern)}, {shown}, must keep 0 to {MAX_MANTISSA_BITS} mantissa bits{hint}"
        )


def _check_default(value: float, shown: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"a default precision must be a finite number, got {shown}")
    if value <= 0:
        raise ConfigError(f"a default precision must be positive, got {shown}")
    if value >= RELATIVE_LIMIT:
        raise ConfigError(
            f"a default precision must be below {RELATIVE_LIMIT:g} (it is relative on energies, momenta and "
            f"masses), got {shown}; for a larger absolute bound write PATTERN={shown}"
        )
    return value


def _check_angle_term(term: PrecisionTerm, subject: str) -> None:
    """Refuse a relative or bits term, or an absolute one of pi/2 or more, on an angle; ``subject``
    says which (``column 'Jet_phi' is an angle``)."""
    if term.mode == BoundMode.RELATIVE:
        kind = "a relative one (mantissa bits are relative)" if term.bits is not None else "a relative one"
        raise ConfigError(
            f"{subject}, whose bound must be absolute (in radians), but the term {quoted(term.text)} "
            f"gives {kind}: write e.g. {term.pattern}=1e-3"
        )
    if term.mode == BoundMode.ABSOLUTE and term.value >= ANGLE_LIMIT:
        raise ConfigError(
            f"{subject}, whose bound must be below pi/2 ({ANGLE_LIMIT:.4f} rad), but the term "
            f"{quoted(term.text)} gives {_number_text(term.value)}"
        )


def _check_repeats(terms: Sequence[PrecisionTerm]) -> None:
    seen: dict[str, str] = {}
    for term in terms:
        if term.pattern in seen:
            raise ConfigError(_twice_message(term.pattern, seen[term.pattern], term.text))
        seen[term.pattern] = term.text


def _twice_message(pattern: str, first: str, second: str) -> str:
    return (
        f"the precision names {quoted(pattern)} twice ({quoted(first)} and {quoted(second)}): the first "
        "match wins, so the second would never apply"
    )


def _check_floor_repeats(floors: Sequence[tuple[str, float]]) -> None:
    seen: set[str] = set()
    for pattern, _ in floors:
        if pattern in seen:
            raise ConfigError(f"the absolute floor of {quoted(pattern)} is given twice")
        seen.add(pattern)


def _floor_value(value: float, text: str, pattern: str | None) -> float:
    what = "an absolute floor" if pattern is None else f"the absolute floor of {quoted(pattern)}"
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {text}")
    if value < 0:
        raise ConfigError(f"{what} must be >= 0, got {text}")
    return value


# ----------------------------------------------------------------------------- helpers


def parse_number(text: str) -> float | None:
    """``float(text)``, or None where ``text`` is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def is_number(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a real number (an int, a float, a numpy number), and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _number_text(value: float) -> str:
    """A short text of ``value``: ``1e-3``, ``2.5e-4``, ``0.01``, ``10``."""
    if value != 0 and math.isfinite(value) and (abs(value) < 1e-2 or abs(value) >= 1e6):
        mantissa, _, exponent = f"{value:.12e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.12g}"


def _type_name(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return type(value).__name__


def quoted(text: str) -> str:
    """``text`` quoted for a message, cut to a readable length."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


__all__ = [
    "ANGLE_LIMIT",
    "ANGLE_NAMES",
    "ANGLE_SUFFIXES",
    "FLOAT32_MANTISSA_BITS",
    "PRECISION_FILE_VERSION",
    "PRESETS",
    "RELATIVE_LIMIT",
    "RELATIVE_NAMES",
    "RELATIVE_SUFFIXES",
    "TERMS_EXAMPLE",
    "FloorSpec",
    "Precision",
    "PrecisionSpec",
    "PrecisionTerm",
    "is_angle_name",
    "is_number",
    "is_relative_name",
    "load_precision_file",
    "mantissa_bits_for",
    "parse_abs_floor",
    "parse_number",
    "parse_precision",
    "preset",
    "quoted",
]

"""The parser of per-column precisions: every form, the name rules, the messages, files and presets."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsqueeze.codecs.bounded.column_bound import LOSSLESS, BoundMode, ColumnBound, mantissa_bound
from hepsqueeze.codecs.bounded.precision import (
    ANGLE_LIMIT,
    PRESETS,
    Precision,
    PrecisionTerm,
    is_angle_name,
    is_relative_name,
    load_precision_file,
    mantissa_bits_for,
    parse_abs_floor,
    parse_precision,
    preset,
)
from hepsqueeze.errors import ColumnError, ConfigError, ContainerError

F4 = np.dtype(np.float32)
F8 = np.dtype(np.float64)


def bound(spec: Any, name: str, dtype: Any = F4, **kwargs: Any) -> ColumnBound:
    return parse_precision(spec, **kwargs).resolve(name, dtype)


# ----------------------------------------------------------------------------- name rules


@pytest.mark.parametrize("name", ["phi", "Jet_phi", "METphi", "MET_phi", "GenPart_phi", "a_b_phi"])
def test_angle_names(name: str) -> None:
    assert is_angle_name(name)


@pytest.mark.parametrize(
    "name",
    ["eta", "Jet_eta", "alpha", "Jet_alpha", "Phi", "Jet_PHI", "deltaPhi", "phiWidth", "Jet_phiX", "MET"],
)
def test_not_angle_names(name: str) -> None:
    assert not is_angle_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "E",
        "pt",
        "m",
        "mass",
        "MET",
        "sumEt",
        "lead_pt",
        "Jet_E",
        "Jet_pt",
        "Jet_m",
        "Jet_mass",
        "MET_sumEt",
        "*_pt",
    ],
)
def test_relative_names(name: str) -> None:
    assert is_relative_name(name)


@pytest.mark.parametrize(
    "name", ["eta", "phi", "Jet_eta", "Jet_PT", "Jet_area", "ptD", "Jet_ptErr", "METphi", "mt"]
)
def test_not_relative_names(name: str) -> None:
    assert not is_relative_name(name)


# ----------------------------------------------------------------------------- forms


def test_terms_text() -> None:
    precision = parse_precision("*_pt=1e-3r, Jet_eta = 2e-3 ,Jet_mass=12b,Jet_area=lossless")
    assert [t.text for t in precision.terms] == [
        "*_pt=1e-3r",
        "Jet_eta = 2e-3",
        "Jet_mass=12b",
        "Jet_area=lossless",
    ]
    assert precision.resolve("Muon_pt", F4) == ColumnBound(BoundMode.RELATIVE, 1e-3, term="*_pt=1e-3r")
    assert precision.resolve("Jet_eta", F4) == ColumnBound(BoundMode.ABSOLUTE, 2e-3, term="Jet_eta = 2e-3")
    assert precision.resolve("Jet_mass", F4) == ColumnBound(
        BoundMode.RELATIVE, mantissa_bound(12), bits=12, term="Jet_mass=12b"
    )
    assert precision.resolve("Jet_area", F4) == ColumnBound(BoundMode.LOSSLESS, term="Jet_area=lossless")
    assert precision.default is None


def test_the_jet_codec_text_is_terms() -> None:
    precision = parse_precision("E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3")
    assert [t.pattern for t in precision.terms] == ["E", "pt", "eta", "phi"]
    assert precision.resolve("E", F4).mode == BoundMode.RELATIVE
    assert precision.resolve("pt", F4).mode == BoundMode.RELATIVE
    assert precision.resolve("eta", F4) == ColumnBound(BoundMode.ABSOLUTE, 1e-3, term="eta=1e-3")
    assert precision.resolve("phi", F4) == ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=True, term="phi=1e-3")
    # exact names only: Jet_pt is none of them
    assert precision.resolve("Jet_pt", F4) == LOSSLESS


@pytest.mark.parametrize("spec", ["1e-3", " 1e-3 ", 1e-3, np.float32(1e-3), np.float64(1e-3)])
def test_single_number_is_the_default(spec: Any) -> None:
    precision = parse_precision(spec)
    assert precision.terms == ()
    assert precision.default == pytest.approx(1e-3)
    value = float(precision.default or 0)
    assert precision.resolve("Jet_pt", F4) == ColumnBound(BoundMode.RELATIVE, value)
    assert precision.resolve("MET", F4) == ColumnBound(BoundMode.RELATIVE, value)
    assert precision.resolve("Jet_eta", F4) == ColumnBound(BoundMode.ABSOLUTE, value)
    assert precision.resolve("Jet_phi", F4) == ColumnBound(BoundMode.ABSOLUTE, value, angle=True)
    assert precision.resolve("Jet_area", F8) == ColumnBound(BoundMode.ABSOLUTE, value)


def test_number_among_terms_is_the_default_of_the_others() -> None:
    for spec in ("1e-3,Jet_mass=lossless", "Jet_mass=lossless,1e-3"):
        precision = parse_precision(spec)
        assert precision.default == 1e-3
        assert precision.resolve("Jet_mass", F4) == ColumnBound(BoundMode.LOSSLESS, term="Jet_mass=lossless")
        assert precision.resolve("Muon_mass", F4) == ColumnBound(BoundMode.RELATIVE, 1e-3)
        assert precision.unbound({"Jet_x": F4}) == []


def test_mapping_form() -> None:
    precision = parse_precision(
        {"*_pt": "1e-3r", "Jet_eta": 1e-3, "*_mass": 2e-3, "Jet_n": 5, "Jet_a": "10b"}
    )
    assert precision.resolve("Jet_pt", F4) == ColumnBound(BoundMode.RELATIVE, 1e-3, term="*_pt=1e-3r")
    assert precision.resolve("Jet_eta", F4) == ColumnBound(BoundMode.ABSOLUTE, 1e-3, term="Jet_eta=1e-3")
    # a number takes the name rule of its pattern: relative on *_mass, absolute on Jet_n
    assert precision.resolve("Jet_mass", F4).mode == BoundMode.RELATIVE
    assert precision.resolve("Jet_n", F4) == ColumnBound(BoundMode.ABSOLUTE, 5.0, term="Jet_n=5")
    assert precision.resolve("Jet_a", F4).bits == 10


def test_precision_is_taken_as_it_is() -> None:
    precision = parse_precision("*_pt=1e-3r")
    assert parse_precision(precision) is precision
    assert parse_precision(precision, require_bounds=True).require_bounds
    floored = parse_precision(precision, abs_floor=0.5)
    assert floored.floors == (("*", 0.5),)
    assert floored.terms == precision.terms


def test_nothing_given_is_all_lossless() -> None:
    precision = parse_precision()
    assert precision == Precision()
    assert precision.resolve("Jet_pt", F4) == LOSSLESS
    assert precision.unbound({"Jet_pt": F4, "n": np.dtype(np.int32)}) == ["Jet_pt"]
    assert precision.describe() == "lossless"


def test_first_match_wins() -> None:
    precision = parse_precision("Jet_pt=10b,*_pt=1e-3r,*=1e-2")
    assert precision.resolve("Jet_pt", F4).bits == 10
    assert precision.resolve("Muon_pt", F4).term == "*_pt=1e-3r"
    assert precision.resolve("Muon_eta", F4).term == "*=1e-2"
    later = parse_precision("*=1e-2,Jet_pt=10b")
    assert later.resolve("Jet_pt", F4).term == "*=1e-2"


def test_globs_are_case_sensitive_fnmatch() -> None:
    precision = parse_precision("Jet_*=1e-2,Muon_pfRelIso0?_all=6b,Electron_[xy]=1e-3,*.v=1e-4")
    assert precision.resolve("Jet_eta", F4).term == "Jet_*=1e-2"
    assert precision.resolve("jet_eta", F4) == LOSSLESS
    assert precision.resolve("Muon_pfRelIso03_all", F4).bits == 6
    assert precision.resolve("Muon_pfRelIso033_all", F4) == LOSSLESS
    assert precision.resolve("Electron_x", F4).value == 1e-3
    assert precision.resolve("Electron_z", F4) == LOSSLESS
    assert precision.resolve("a.v", F4).value == 1e-4


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.bool_, "i4", "<u8", "?"]
)
def test_integers_and_booleans_are_exact_whatever_the_terms(dtype: Any) -> None:
    for spec in ("*=1e-3", "*=1e-3r", "*=10b", "1e-3"):
        assert bound(spec, "Jet_nConstituents", dtype) == LOSSLESS
    assert parse_precision("*=1e-3").unbound({"n": np.dtype(dtype)}) == []


def test_float_dtypes_resolve() -> None:
    for dtype in (np.float16, np.float32, np.float64, ">f8", "float32"):
        assert bound("*=1e-3", "x", dtype) == ColumnBound(BoundMode.ABSOLUTE, 1e-3, term="*=1e-3")


# ----------------------------------------------------------------------------- unbound columns


COLUMNS: dict[str, np.dtype[Any]] = {
    "event": np.dtype(np.int64),
    "Jet_pt": F4,
    "Jet_eta": F4,
    "Jet_area": F4,
    "Jet_n": np.dtype(np.int32),
    "Jet_mass": F8,
}


def test_unbound_lists_float_columns_no_term_names_in_order() -> None:
    precision = parse_precision("*_pt=1e-3r,Jet_mass=lossless")
    assert precision.unbound(COLUMNS) == ["Jet_eta", "Jet_area"]
    assert precision.resolve("Jet_eta", F4) == LOSSLESS
    assert precision.resolve("Jet_eta", F4).term is None
    precision.check(COLUMNS, "events.root")  # bounds not required: nothing raised


def test_check_with_require_bounds_names_the_unbound_columns() -> None:
    precision = parse_precision("*_pt=1e-3r,Jet_mass=lossless", require_bounds=True)
    with pytest.raises(ColumnError, match=r"events\.root: .*Jet_eta, Jet_area") as info:
        precision.check(COLUMNS, "events.root")
    assert info.value.column == "Jet_eta"
    assert info.value.path == "events.root"
    assert "\n" not in str(info.value)
    parse_precision("*=1e-3", require_bounds=True).check(COLUMNS, "events.root")
    parse_precision("1e-3", require_bounds=True).check(COLUMNS, "events.root")


def test_check_cuts_long_lists() -> None:
    precision = parse_precision("a=1e-3", require_bounds=True)
    columns = {f"c{i}": F4 for i in range(25)}
    with pytest.raises(ColumnError, match="and 15 more"):
        precision.check(columns, "f.h5")


# ----------------------------------------------------------------------------- angles


def test_declared_angles() -> None:
    precision = dataclasses.replace(parse_precision("*=1e-3"), angles=("Jet_alpha", "Puppi_phi*"))
    assert precision.is_angle("Jet_alpha")
    assert precision.is_angle("Puppi_phiUp")
    assert precision.is_angle("Jet_phi")
    assert not precision.is_angle("Jet_eta")
    assert precision.resolve("Jet_alpha", F4).angle
    assert not precision.resolve("Jet_eta", F4).angle
    # the default number is absolute on an angle, even one named like a momentum
    declared = Precision(default=1e-3, angles=("Jet_pt",))
    assert declared.resolve("Jet_pt", F4) == ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=True)


@pytest.mark.parametrize("spec", ["*=1e-3r", "*=10b", "Jet_*=1e-3r"])
def test_relative_term_on_an_angle_column_is_refused_at_resolve(spec: str) -> None:
    precision = parse_precision(spec)
    assert precision.resolve("Jet_pt", F4).mode == BoundMode.RELATIVE
    with pytest.raises(ConfigError, match=rf"column 'Jet_phi' is an angle, .*absolute.*'{re.escape(spec)}'"):
        precision.resolve("Jet_phi", F4)


def test_relative_term_on_a_declared_angle_is_refused() -> None:
    precision = Precision((PrecisionTerm("Jet_*", BoundMode.RELATIVE, 1e-3),), angles=("Jet_alpha",))
    with pytest.raises(ConfigError, match="column 'Jet_alpha' is an angle"):
        precision.resolve("Jet_alpha", F4)
    with pytest.raises(ConfigError, match="the pattern 'Jet_alpha' names angles"):
        Precision((PrecisionTerm("Jet_alpha", BoundMode.RELATIVE, 1e-3),), angles=("Jet_*",))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("phi=1e-3r", r"the pattern 'phi' names angles, whose bound must be absolute .*'phi=1e-3r'"),
        ("*_phi=12b", r"the pattern '\*_phi' names angles, .*mantissa bits are relative"),
        ("METphi=1e-2r", r"the pattern 'METphi' names angles"),
        ("phi=2", r"the pattern 'phi' names angles, whose bound must be below pi/2 .*'phi=2'"),
    ],
)
def test_angle_pattern_terms_are_refused_at_once(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_precision(spec)


def test_large_absolute_bound_on_an_angle_column_is_refused() -> None:
    precision = parse_precision("*=2")
    assert precision.resolve("Jet_eta", F4).value == 2.0
    with pytest.raises(ConfigError, match=r"column 'Jet_phi' is an angle, whose bound must be below pi/2"):
        precision.resolve("Jet_phi", F4)
    assert bound(f"*={ANGLE_LIMIT * 0.99}", "Jet_phi").angle


def test_lossless_term_on_an_angle() -> None:
    assert bound("*_phi=lossless", "Jet_phi") == ColumnBound(BoundMode.LOSSLESS, term="*_phi=lossless")


# ----------------------------------------------------------------------------- floors


def test_floor_number_applies_to_relative_columns_only() -> None:
    precision = parse_precision("*_pt=1e-3r,*_eta=1e-3,Jet_m=10b", abs_floor="0.01")
    assert precision.resolve("Jet_pt", F4).floor == 0.01
    assert precision.resolve("Jet_m", F4).floor == 0.01
    assert precision.resolve("Jet_eta", F4).floor == 0.0
    assert bound("1e-3", "Jet_pt", abs_floor=0.02).floor == 0.02
    assert bound("1e-3", "Jet_eta", abs_floor=0.02).floor == 0.0


def test_floor_terms_and_mapping_first_match_wins() -> None:
    floors = parse_abs_floor("Jet_pt=0.5, *_pt=0.01")
    assert floors == (("Jet_pt", 0.5), ("*_pt", 0.01))
    precision = parse_precision("*_pt=1e-3r", abs_floor={"Jet_pt": 0.5, "*": "0.01"})
    assert precision.resolve("Jet_pt", F4).floor == 0.5
    assert precision.resolve("Muon_pt", F4).floor == 0.01
    assert parse_abs_floor(0) == (("*", 0.0),)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", r"^the absolute floor is empty"),
        ("-1", r"^an absolute floor must be >= 0, got -1$"),
        ("nan", r"^an absolute floor must be a finite number"),
        ("*_pt=0.1,,", r"has an empty term \(check the commas\)"),
        ("*_pt", r"^the absolute floor term '\*_pt' is neither PATTERN=VALUE"),
        ("*_pt=x", r"^the absolute floor of '\*_pt', 'x', is not a number$"),
        ("*_pt=-2", r"^the absolute floor of '\*_pt' must be >= 0, got -2$"),
        ("*_pt=1,*_pt=2", r"^the absolute floor of '\*_pt' is given twice$"),
        ("=1", r"names no column"),
        ({"*_pt": None}, r"^the absolute floor of '\*_pt' must be a number, not NoneType$"),
        ({1: 0.1}, r"patterns must be strings"),
        ([0.1], r"^an absolute floor must be a number, PATTERN=VALUE terms or a mapping, not list$"),
    ],
)
def test_floor_errors(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_precision("*_pt=1e-3r", abs_floor=spec)


# ----------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", r"^the precision is empty: give one number \(e\.g\. 1e-3\) or PATTERN=BOUND terms"),
        ("  ", r"^the precision is empty"),
        ("Jet_pt=1e-3r,,Jet_eta=1e-3", r"^the precision 'Jet_pt=1e-3r,,Jet_eta=1e-3' has an empty term"),
        ("Jet_pt=1e-3r,", r"has an empty term \(check the commas\)"),
        (
            "Jet_pt",
            r"^the precision term 'Jet_pt' is neither PATTERN=BOUND \(e\.g\. Jet_pt=1e-3r\) nor a number",
        ),
        ("Jet_pt=abc", r"^the precision of 'Jet_pt', 'abc', is not a bound \(a number for an absolute bound"),
        ("Jet_pt=1e-3.5", r"^the precision of 'Jet_pt', '1e-3.5', is not a bound"),
        ("Jet_pt=", r"^the precision of 'Jet_pt' is empty"),
        ("Jet_pt=0", r"^the precision of 'Jet_pt' must be positive, got 0$"),
        ("Jet_pt=-1e-3r", r"^the precision of 'Jet_pt' must be positive, got -1e-3r$"),
        ("Jet_pt=0r", r"^the precision of 'Jet_pt' must be positive, got 0r$"),
        ("Jet_pt=inf", r"^the precision of 'Jet_pt' must be a finite number, got inf$"),
        ("Jet_pt=nanr", r"^the precision of 'Jet_pt' must be a finite number, got nanr$"),
        ("Jet_pt=1r", r"^the relative precision of 'Jet_pt' must be below 1, got 1r$"),
        ("Jet_pt=2.5r", r"^the relative precision of 'Jet_pt' must be below 1, got 2\.5r$"),
        ("Jet_pt=53b", r"^the precision of 'Jet_pt', 53b, must keep 0 to 52 mantissa bits$"),
        ("Jet_pt=-1b", r"must keep 0 to 52 mantissa bits \(for every bit, write lossless\)$"),
        (
            "Jet_pt=10.5b",
            r"^the precision of 'Jet_pt', 10\.5b, must be a whole number of mantissa bits from 0 to 52$",
        ),
        ("Jet_pt=1e1b", r"must be a whole number of mantissa bits"),
        (
            "Jet_pt=1e-3x",
            r"^the precision of 'Jet_pt', '1e-3x', has the unknown suffix 'x' \('r' for relative",
        ),
        ("Jet_pt=1e-3R", r"has the unknown suffix 'R'"),
        ("Jet_pt=12bits", r"has the unknown suffix 'bits'"),
        (
            "Jet_pt=1e-3r,Jet_pt=10b",
            r"^the precision names 'Jet_pt' twice \('Jet_pt=1e-3r' and 'Jet_pt=10b'\)",
        ),
        ("=1e-3", r"^the precision term '=1e-3' names no column"),
        (" = 1e-3r", r"^the precision term '= 1e-3r' names no column"),
        ("Jet_pt=losless", r"is not a bound .*; did you mean 'lossless'\?$"),
        ("Jet_pt=loseless", r"did you mean 'lossless'\?$"),
        ("Jet pt=1e-3", r"^the precision pattern 'Jet pt' has the character ' ' \(patterns take letters"),
        ("Jet/pt=1e-3", r"has the character '/'"),
        (
            "1",
            r"^a default precision must be below 1 \(it is relative on energies, momenta and masses\), got 1;",
        ),
        ("2.5", r"^a default precision must be below 1 .*got 2\.5"),
        ("0", r"^a default precision must be positive, got 0$"),
        ("-1e-3", r"^a default precision must be positive"),
        ("inf", r"^a default precision must be a finite number, got inf$"),
        ("nan", r"^a default precision must be a finite number"),
        ("1e-3r", r"^a default precision number takes no 'r' .*give 1e-3, or \*=1e-3r"),
        ("12b", r"^a default precision number takes no 'b'"),
        ("1e-3,2e-3", r"^the precision '1e-3,2e-3' gives two default numbers, 1e-3 and 2e-3: give one$"),
        (2.0, r"^a default precision must be below 1"),
        (0, r"^a default precision must be positive"),
        (float("nan"), r"^a default precision must be a finite number"),
        (True, r"^a precision must be a number, PATTERN=BOUND terms, .* not bool$"),
        ([1e-3], r"not list$"),
        ({"Jet_pt": None}, r"^the precision of 'Jet_pt' must be a bound such as '1e-3r'.* not NoneType$"),
        ({"Jet_pt": True}, r"not true/false$"),
        ({1: "1e-3"}, r"patterns must be strings, got 1 \(int\)$"),
        ({"Jet_pt": 1.5}, r"^the relative precision of 'Jet_pt' must be below 1, got 1\.5$"),
        ({"Jet_eta": -1}, r"^the precision of 'Jet_eta' must be positive, got -1$"),
        ({"": 1e-3}, r"names no column"),
        ({"Jet_pt": "1e-3r", " Jet_pt ": "10b"}, r"^the precision names 'Jet_pt' twice"),
    ],
)
def test_messages(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_precision(spec)
    assert "\n" not in str(info.value)
    assert "--" not in str(info.value)  # library messages name no command-line flag


def test_require_bounds_must_be_bool() -> None:
    with pytest.raises(ConfigError, match="require_bounds must be True or False"):
        parse_precision("1e-3", require_bounds="yes")  # type: ignore[arg-type]


def test_spelling_of_lossless_is_case_insensitive() -> None:
    assert bound("Jet_pt=LOSSLESS", "Jet_pt").lossless


def test_spaces_and_signs() -> None:
    assert bound(" Jet_pt = +1e-3 r ", "Jet_pt") == ColumnBound(
        BoundMode.RELATIVE, 1e-3, term="Jet_pt = +1e-3 r"
    )
    assert bound("Jet_pt= 12 b", "Jet_pt").bits == 12
    assert bound("Jet_pt=0b", "Jet_pt").value == 0.5
    assert bound("Jet_pt=52b", "Jet_pt", F8).bits == 52


# ----------------------------------------------------------------------------- the dataclasses


def test_precision_term_validation() -> None:
    term = PrecisionTerm("Jet_pt", BoundMode.RELATIVE, bits=12)
    assert term.value == mantissa_bound(12)
    assert term.text == "Jet_pt=12b"
    assert PrecisionTerm("Jet_eta", BoundMode.ABSOLUTE, 1e-3).text == "Jet_eta=1e-3"
    assert PrecisionTerm("x", BoundMode.LOSSLESS).text == "x=lossless"
    with pytest.raises(ConfigError, match="takes no value"):
        PrecisionTerm("x", BoundMode.LOSSLESS, 1e-3)
    with pytest.raises(ConfigError, match="on a bound that is not relative"):
        PrecisionTerm("x", BoundMode.ABSOLUTE, 1e-3, bits=12)
    with pytest.raises(ConfigError, match="has the value"):
        PrecisionTerm("x", BoundMode.RELATIVE, 1e-3, bits=12)
    with pytest.raises(ConfigError, match="must keep 0 to 52"):
        PrecisionTerm("x", BoundMode.RELATIVE, bits=60)
    with pytest.raises(ConfigError, match="must be below 1"):
        PrecisionTerm("x", BoundMode.RELATIVE, 1.0)
    with pytest.raises(ConfigError, match="must be a number"):
        PrecisionTerm("x", BoundMode.ABSOLUTE, "1e-3")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no bound mode"):
        PrecisionTerm("x", "relative", 1e-3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="names no column"):
        PrecisionTerm("", BoundMode.ABSOLUTE, 1e-3)


def test_precision_validation() -> None:
    with pytest.raises(ConfigError, match="twice"):
        Precision((PrecisionTerm("a", BoundMode.ABSOLUTE, 1.0), PrecisionTerm("a", BoundMode.ABSOLUTE, 2.0)))
    with pytest.raises(ConfigError, match="must be PrecisionTerms"):
        Precision(("a=1",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be below 1"):
        Precision(default=1.0)
    with pytest.raises(ConfigError, match="must be a number"):
        Precision(default="1e-3")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not the string"):
        Precision(angles="Jet_alpha")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="has the character"):
        Precision(angles=("Jet alpha",))
    with pytest.raises(ConfigError, match="must be >= 0"):
        Precision(floors=(("*", -1.0),))
    with pytest.raises(ConfigError, match="given twice"):
        Precision(floors=(("*", 1.0), ("*", 2.0)))
    with pytest.raises(ConfigError, match="pair"):
        Precision(floors=(("*",),))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="require_bounds"):
        Precision(require_bounds=1)  # type: ignore[arg-type]
    assert Precision(angles=["a"], floors=[["*", 1]]).floors == (("*", 1.0),)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- describe and JSON


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("*_pt=1e-3r,*_eta=1e-3", "*_pt=1e-3r,*_eta=1e-3"),
        ("1e-3", "1e-3 (relative for energies, momenta, masses; absolute otherwise)"),
        (1e-3, "1e-3 (relative for energies, momenta, masses; absolute otherwise)"),
        (0.05, "0.05 (relative for energies, momenta, masses; absolute otherwise)"),
        (
            "Jet_mass=lossless,2.5e-4",
            "Jet_mass=lossless,2.5e-4 (relative for energies, momenta, masses; absolute otherwise)",
        ),
        ({"Jet_eta": 1e-3, "Jet_pt": "10b"}, "Jet_eta=1e-3,Jet_pt=10b"),
    ],
)
def test_describe(spec: Any, text: str) -> None:
    assert parse_precision(spec).describe() == text


def test_describe_floors_angles_required() -> None:
    precision = dataclasses.replace(
        parse_precision("*_pt=1e-3r", abs_floor="*_pt=0.01", require_bounds=True), angles=("Jet_alpha",)
    )
    assert precision.describe() == "*_pt=1e-3r; absolute floor *_pt=0.01; angles Jet_alpha; bounds required"


ROUND_TRIP = [
    Precision(),
    parse_precision("1e-3"),
    parse_precision("*_pt=1e-3r,Jet_eta=2e-3,Jet_mass=12b,Jet_area=lossless,5e-4", abs_floor="*_pt=0.01"),
    parse_precision({"Jet_eta": 1e-3}, require_bounds=True),
    Precision(default=0.25, angles=("Jet_alpha", "x*"), floors=(("*", 0.5),)),
]


@pytest.mark.parametrize("precision", ROUND_TRIP, ids=lambda p: p.describe())
def test_config_round_trip(precision: Precision) -> None:
    data = json.loads(json.dumps(precision.to_config()))
    back = Precision.from_config(data)
    assert back == precision
    assert back.describe() == precision.describe()


def test_config_round_trip_of_the_preset() -> None:
    nano = preset("nanoaod")
    assert Precision.from_config(json.loads(json.dumps(nano.to_config()))) == nano


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "1e-3",
        {"terms": [], "extra": 1},
        {"terms": "x"},
        {"terms": [{"pattern": "a"}]},
        {"terms": [{"pattern": "a", "mode": "sideways", "value": 1e-3}]},
        {"terms": [{"pattern": "a", "mode": "relative", "value": 2.0}]},
        {"terms": [{"pattern": "a", "mode": "relative", "value": 1e-3, "bits": "12"}]},
        {"terms": [{"pattern": "a", "mode": "absolute", "value": 1e-3, "colour": 1}]},
        {"terms": [{"pattern": 1, "mode": "absolute", "value": 1e-3}]},
        {"default": "1e-3"},
        {"default": True},
        {"angles": [1]},
        {"floors": [["*"]]},
        {"floors": [["*", -1.0]]},
        {"require_bounds": "no"},
    ],
)
def test_from_config_refuses_bad_data(data: Any) -> None:
    with pytest.raises(ContainerError, match=r"^invalid stored precision: "):
        Precision.from_config(data)


# ----------------------------------------------------------------------------- mantissa bits


def test_mantissa_bits_for_relative() -> None:
    rel = ColumnBound(BoundMode.RELATIVE, 1e-3)
    # 2**-10 = 9.8e-4 <= 1e-3 < 2**-9 = 2.0e-3
    assert mantissa_bits_for(rel, 100.0) == 9
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, 2**-10), 1.0) == 9
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, 2**-10 * 0.999), 1.0) == 10
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, 0.5), 1.0) == 0
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, 0.9), 1.0) == 0
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, 1e-3, floor=10.0), 1.0) == 9
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, mantissa_bound(12), bits=12), 1.0) == 12
    for bits in range(24):
        assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, mantissa_bound(bits)), 1.0) == bits


def test_mantissa_bits_for_absolute() -> None:
    # |x| <= 100: exponent 6; 2**(6 - N) / 2 <= 1e-3 first at N = 15 (2**-10)
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 1e-3), 100.0) == 15
    # phi: exponent 1; 12 bits err by 2**-12
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 2**-12, angle=True), math.pi) == 12
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 2**-12 * 1.5), math.pi) == 12
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 2**-12 * 0.9), math.pi) == 13
    # eta below 8: exponent 2
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 2**-11), 5.0) == 12
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 10.0), 3.0) == 0
    assert mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 1e-3), 0.0) == 0


def test_mantissa_bits_for_clips() -> None:
    tiny = ColumnBound(BoundMode.ABSOLUTE, 1e-12)
    assert mantissa_bits_for(tiny, 100.0) == 23
    assert mantissa_bits_for(tiny, 100.0, max_bits=52) == 45  # 2**(6 - 45) / 2 = 9.1e-13
    assert mantissa_bits_for(LOSSLESS, 1.0) == 23
    assert mantissa_bits_for(LOSSLESS, 1.0, max_bits=52) == 52
    assert mantissa_bits_for(ColumnBound(BoundMode.RELATIVE, mantissa_bound(40), bits=40), 1.0) == 23
    with pytest.raises(ConfigError, match="largest"):
        mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 1e-3), float("inf"))
    with pytest.raises(ConfigError, match="largest"):
        mantissa_bits_for(ColumnBound(BoundMode.ABSOLUTE, 1e-3), -1.0)
    with pytest.raises(ConfigError, match="max_bits"):
        mantissa_bits_for(LOSSLESS, 1.0, max_bits=53)


def test_mantissa_bits_meet_the_bound() -> None:
    """Rounding float32 values to the answer's bits errs within the bound."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-100, 100, 20_000).astype(np.float32)
    for value in (1e-1, 1e-2, 3e-3, 1e-4):
        absolute = ColumnBound(BoundMode.ABSOLUTE, value)
        bits = mantissa_bits_for(absolute, float(np.max(np.abs(x))))
        assert np.max(np.abs(_round_mantissa(x, bits) - x)) <= value
        relative = ColumnBound(BoundMode.RELATIVE, value)
        bits = mantissa_bits_for(relative, 1.0)
        assert np.all(np.abs(_round_mantissa(x, bits) - x) <= value * np.abs(x))


def _round_mantissa(x: np.ndarray, bits: int) -> np.ndarray:
    """float32 ``x`` rounded (to nearest) to ``bits`` mantissa bits, in float64."""
    mantissa, exponent = np.frexp(x.astype(np.float64))
    return np.ldexp(np.round(mantissa * 2.0 ** (bits + 1)) / 2.0 ** (bits + 1), exponent)


# ----------------------------------------------------------------------------- precision files


GOOD_FILE = """\
# hepsqueeze precision file
version = 1
default = 1e-3
angles = ["Jet_alpha"]
require_bounds = true

[bounds]
"Jet_pt" = "10b"
"*_eta" = "1e-3"
"*_x" = 2e-3
"Jet_mass" = "lossless"
"*_pt" = 5e-4

[floors]
"Jet_pt" = 0.5
"*" = 0.01
"""


def write(tmp_path: Path, text: str, name: str = "precision.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file(tmp_path: Path) -> None:
    precision = load_precision_file(write(tmp_path, GOOD_FILE))
    assert [t.pattern for t in precision.terms] == ["Jet_pt", "*_eta", "*_x", "Jet_mass", "*_pt"]
    assert precision.default == 1e-3
    assert precision.angles == ("Jet_alpha",)
    assert precision.require_bounds
    assert precision.floors == (("Jet_pt", 0.5), ("*", 0.01))
    assert precision.resolve("Jet_pt", F4) == ColumnBound(
        BoundMode.RELATIVE, mantissa_bound(10), 0.5, bits=10, term="Jet_pt=10b"
    )
    assert precision.resolve("Muon_pt", F4) == ColumnBound(BoundMode.RELATIVE, 5e-4, 0.01, term="*_pt=5e-4")
    assert precision.resolve("Jet_x", F4) == ColumnBound(BoundMode.ABSOLUTE, 2e-3, term="*_x=2e-3")
    assert precision.resolve("Jet_alpha", F4) == ColumnBound(BoundMode.ABSOLUTE, 1e-3, angle=True)
    assert precision.resolve("Jet_E", F4) == ColumnBound(BoundMode.RELATIVE, 1e-3, 0.01)
    assert parse_precision(precision_file=write(tmp_path, GOOD_FILE)) == precision
    assert parse_precision(precision_file=str(write(tmp_path, GOOD_FILE))) == precision


def test_minimal_file(tmp_path: Path) -> None:
    assert load_precision_file(write(tmp_path, "version = 1\n")) == Precision()


def test_spec_terms_come_before_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_FILE)
    precision = parse_precision("Jet_pt=12b,Muon_eta=lossless,2e-4", precision_file=path)
    assert [t.pattern for t in precision.terms] == ["Jet_pt", "Muon_eta", "*_eta", "*_x", "Jet_mass", "*_pt"]
    assert precision.resolve("Jet_pt", F4).bits == 12
    assert precision.default == 2e-4
    assert precision.floors == (("Jet_pt", 0.5), ("*", 0.01))
    assert parse_precision("Jet_pt=12b", precision_file=path, abs_floor=1.0).floors == (("*", 1.0),)
    assert parse_precision("Jet_pt=12b", precision_file=path).default == 1e-3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 1\n[bounds\n", r"is not valid TOML: .*line 2"),
        ("version = \n", r"is not valid TOML: .*line 1, column"),
        (
            "version = 1\nverison = 2\n",
            r"has the unknown key 'verison' \(keys: .*\); did you mean 'version'\?$",
        ),
        ("version = 1\n[bound]\n", r"has the unknown key 'bound'"),
        (
            "version = 2\n",
            r"has version 2, which this version of hepsqueeze does not read \(it reads version 1\)$",
        ),
        ("version = '1'\n", r"key 'version' must be a whole number, not str$"),
        ("default = 1e-3\n", r"has no version \(write version = 1 at the top\)$"),
        ("version = 1\ndefault = 'x'\n", r"key 'default', 'x', is not a number$"),
        ("version = 1\ndefault = true\n", r"key 'default' must be a number, not true/false$"),
        ("version = 1\ndefault = 2\n", r"a default precision must be below 1"),
        ("version = 1\nangles = 'Jet_alpha'\n", r"key 'angles' must be a list of patterns"),
        ("version = 1\nangles = [1]\n", r"key 'angles' must be a list of patterns"),
        ("version = 1\nangles = ['a b']\n", r"has the character ' '"),
        ("version = 1\nrequire_bounds = 'yes'\n", r"key 'require_bounds' must be true or false, not str$"),
        ("version = 1\nbounds = 1\n", r"key 'bounds' must be a table \(\[bounds\]\), not int$"),
        ("version = 1\nfloors = [1]\n", r"key 'floors' must be a table \(\[floors\]\), not a list$"),
        (
            "version = 1\n[bounds]\nJet.pt = '10b'\n",
            r"key 'bounds\.Jet' is a table, not a value \(quote .*\"Jet\.pt\"",
        ),
        (
            "version = 1\n[bounds]\n'Jet_pt' = true\n",
            r"the precision of 'Jet_pt' must be a bound .*not true/false$",
        ),
        ("version = 1\n[bounds]\n'Jet_pt' = [1]\n", r"not a list$"),
        ("version = 1\n[bounds]\n'Jet_pt' = '1e-3q'\n", r"\[bounds\].*|unknown suffix 'q'"),
        ("version = 1\n[bounds]\n'*_phi' = '12b'\n", r"the pattern '\*_phi' names angles"),
        ("version = 1\n[floors]\n'*' = -1\n", r"the absolute floor of '\*' must be >= 0"),
        ("version = 1\n[floors]\n'*' = 'x'\n", r"the absolute floor of '\*', 'x', is not a number"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(ConfigError, match=rf"^precision file {re.escape(str(path))}\b.*{message}") as info:
        load_precision_file(path)
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)


def test_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"precision file .*nope\.toml does not exist"):
        load_precision_file(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        parse_precision(precision_file=tmp_path / "nope.toml")


def test_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"version = 1\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text"):
        load_precision_file(path)


def test_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot be read"):
        load_precision_file(tmp_path)


# ----------------------------------------------------------------------------- presets


def test_presets() -> None:
    assert "nanoaod" in PRESETS
    for name in PRESETS:
        assert preset(name) is preset(name)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"^unknown precision preset 'nanoad' \(known: nanoaod\); did you mean 'nanoaod'\?$"
    ):
        preset("nanoad")
    with pytest.raises(ConfigError, match=r"known: nanoaod"):
        preset("cms")


def test_nanoaod_preset_resolves_like_nanoaod() -> None:
    nano = preset("nanoaod")
    jet_pt = nano.resolve("Jet_pt", F4)
    assert jet_pt == ColumnBound(BoundMode.RELATIVE, mantissa_bound(10), bits=10, term="Jet_pt=10b")
    muon_eta = nano.resolve("Muon_eta", F4)
    assert muon_eta.mode == BoundMode.ABSOLUTE
    assert muon_eta.value == 2**-11
    assert not muon_eta.angle
    met_phi = nano.resolve("MET_phi", F4)
    assert met_phi.mode == BoundMode.ABSOLUTE
    assert met_phi.angle
    assert met_phi.value == 2**-12
    assert nano.resolve("Muon_pt", F4).lossless  # NanoAOD keeps the muon pt whole
    assert nano.resolve("GenPart_pt", F4).bits == 8
    assert nano.resolve("Jet_chHEF", F4).bits == 6
    assert nano.resolve("PuppiMET_phiJERUp", F4).angle
    assert nano.resolve("RawMET_phi", F4).value == 2**-10
    # integers are exact, unknown floats lossless and listed
    for name in ("run", "luminosityBlock", "event", "Jet_hadronFlavour", "Muon_charge", "GenPart_pdgId"):
        assert nano.resolve(name, np.dtype(np.int32)) == LOSSLESS
    assert nano.unbound({"Jet_pt": F4, "Jet_mystery": F4, "event": np.dtype(np.uint64)}) == ["Jet_mystery"]
    # the bits the NanoAOD-style baseline derives from the bounds are NanoAOD's own
    assert mantissa_bits_for(jet_pt, 1000.0) == 10
    assert mantissa_bits_for(muon_eta, 4.7) == 12
    assert mantissa_bits_for(muon_eta, 2.4) == 11  # |eta| < 4 needs a bit less
    assert mantissa_bits_for(met_phi, math.pi) == 12
    assert mantissa_bits_for(nano.resolve("GenPart_eta", F4), 7.9) == 8
    assert mantissa_bits_for(nano.resolve("GenPart_phi", F4), math.pi) == 8


def test_nanoaod_preset_covers_the_generator_branches() -> None:
    nano = preset("nanoaod")
    floats = [
        f"Jet_{v}"
        for v in [
            "pt",
            "eta",
            "phi",
            "mass",
            "area",
            "chHEF",
            "neHEF",
            "chEmEF",
            "neEmEF",
            "muEF",
            "tau1",
            "tau2",
            "tau3",
            "tau21",
            "tau32",
            "lead_pt",
            "lead_fraction",
            "width",
        ]
    ]
    floats += [f"{o}_{v}" for o in ("Muon", "Electron", "Photon") for v in ("pt", "eta", "phi", "mass")]
    floats += ["Muon_pfRelIso03_all", "Electron_pfRelIso03_all", "Photon_pfRelIso03_all"]
    floats += ["MET_pt", "MET_phi", "MET_sumEt"] + [f"GenPart_{v}" for v in ("pt", "eta", "phi", "mass")]
    columns = dict.fromkeys(floats, F4)
    assert nano.unbound(columns) == []
    for name in floats:
        nano.resolve(name, F4)  # no angle refused


def test_nanoaod_preset_with_terms_before_it() -> None:
    nano = preset("nanoaod")
    assert parse_precision(nano) is nano
    mine = parse_precision("Jet_pt=1e-3r,1e-2")
    both = dataclasses.replace(nano, terms=mine.terms + tuple(t for t in nano.terms if t.pattern != "Jet_pt"))
    assert both.resolve("Jet_pt", F4).term == "Jet_pt=1e-3r"
    assert both.resolve("Jet_eta", F4).value == 2**-11


def test_precision_file_may_name_a_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_precision(precision_file="nanoaod") == preset("nanoaod")
    mine = parse_precision("Jet_pt=1e-3r", precision_file="nanoaod")
    assert mine.resolve("Jet_pt", F4).term == "Jet_pt=1e-3r"
    assert mine.resolve("Jet_eta", F4).value == 2**-11
    write(tmp_path, "version = 1\n", "nanoaod")  # a file of that name comes first
    assert parse_precision(precision_file="nanoaod") == Precision()

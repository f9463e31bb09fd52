"""The one parser of the bounded codec's maximum error and absolute floor: accepted forms, exact messages."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hepsqueeze.codecs.bounded.bounds import JetBounds
from hepsqueeze.codecs.bounded.spec import (
    PHI_LIMIT,
    RELATIVE_LIMIT,
    parse_abs_floor,
    parse_max_error,
)
from hepsqueeze.errors import ConfigError
from hepsqueeze.metrics.bounds import ErrorBound

# (max error, absolute floor, (E, pt, eta, phi) bound values, (E, pt) floors) as the CLI's earlier parser
# (hepsqueeze.codec.bounded_file.parse_max_error) gave them, computed once with it: E and pt relative,
# eta and phi absolute in every case.
LEGACY_CASES: list[tuple[str, str | None, tuple[float, float, float, float], tuple[float, float]]] = [
    ("1e-3", None, (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    (" 1e-3 ", None, (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    ("0.5", None, (0.5, 0.5, 0.5, 0.5), (0.0, 0.0)),
    ("0.999", None, (0.999, 0.999, 0.999, 0.999), (0.0, 0.0)),
    ("2e-4\n", None, (0.0002, 0.0002, 0.0002, 0.0002), (0.0, 0.0)),
    (".001", None, (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    ("+1E-3", None, (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    ("0.00_1", None, (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    ("E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3", None, (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    ("pt=2e-3r,E=1e-3r,phi=1e-2,eta=5e-3", None, (0.001, 0.002, 0.005, 0.01), (0.0, 0.0)),
    (" E = 1e-3 r , pt=1e-3r,eta=1,phi=1.5", None, (0.001, 0.001, 1.0, 1.5), (0.0, 0.0)),
    ("E=0.9r,pt=1e-9r,eta=100,phi=1e-5", None, (0.9, 1e-09, 100.0, 1e-05), (0.0, 0.0)),
    ("E=+.5r,pt=5E-1r,eta=2.,phi=1e+0", None, (0.5, 0.5, 2.0, 1.0), (0.0, 0.0)),
    ("1e-3", "0", (0.001, 0.001, 0.001, 0.001), (0.0, 0.0)),
    ("1e-3", "0.01", (0.001, 0.001, 0.001, 0.001), (0.01, 0.01)),
    ("1e-3", "E=0.01", (0.001, 0.001, 0.001, 0.001), (0.01, 0.0)),
    ("1e-3", "pt=0.02", (0.001, 0.001, 0.001, 0.001), (0.0, 0.02)),
    ("E=1e-3r,pt=2e-3r,eta=1e-3,phi=1e-3", "E=0.01,pt=0.02", (0.001, 0.002, 0.001, 0.001), (0.01, 0.02)),
    ("1e-3", " pt = 1 , E=2 ", (0.001, 0.001, 0.001, 0.001), (2.0, 1.0)),
]


# Texts the earlier parser refused: they stay refused.
LEGACY_REFUSED = [
    "0",
    "-1",
    "abc",
    "",
    "  ",
    "nan",
    "inf",
    "-inf",
    "1",
    "1.5",
    "1e-3r",
    "E=1e-3,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1e-3r,pt=1e-3r,eta=1e-3r,phi=1e-3",
    "E=1e-3r,pt=1e-3r,eta=1e-3",
    "E=1e-3r,,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3,",
    "Pt=1e-3r,E=1e-3r,eta=1e-3,phi=1e-3",
    "E=1e-3r,E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=0r,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=-1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1r,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1e-3r,pt=1e-3r,eta=1e-3,phi=2",
    "E=1e999r,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1e-3R,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1_0r,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=abc,pt=1e-3r,eta=1e-3,phi=1e-3",
    "E=1e-3rr,pt=1e-3r,eta=1e-3,phi=1e-3",
    "=1e-3",
    "E",
    "1e-3,pt=1e-3r",
    "mass=1e-3r",
]
LEGACY_REFUSED_FLOORS = [
    "-1",
    "nan",
    "inf",
    "abc",
    "",
    "E",
    "eta=1",
    "Pt=1",
    "E=1,E=2",
    "E=1,,pt=2",
    "E=x",
    "E=1,",
    "=1",
]

TERMS = "E=1e-3r,pt=1e-3r,eta=1e-3,phi=1e-3"


@pytest.mark.parametrize(("spec", "floor", "values", "floors"), LEGACY_CASES)
def test_same_bounds_as_the_earlier_parser(
    spec: str, floor: str | None, values: tuple[float, float, float, float], floors: tuple[float, float]
) -> None:
    e, pt, eta, phi = values
    expected = JetBounds(
        ErrorBound("relative", e),
        ErrorBound("relative", pt),
        ErrorBound("absolute", eta),
        ErrorBound("absolute", phi),
        E_floor=floors[0],
        pt_floor=floors[1],
    )
    assert parse_max_error(spec, floor).to_dict() == expected.to_dict()


@pytest.mark.parametrize("spec", LEGACY_REFUSED)
def test_refuses_what_the_earlier_parser_refused(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_max_error(spec)


@pytest.mark.parametrize("floor", LEGACY_REFUSED_FLOORS)
def test_refuses_the_floors_the_earlier_parser_refused(floor: str) -> None:
    with pytest.raises(ConfigError):
        parse_max_error("1e-3", floor)


def _terms(**changes: str) -> str:
    terms = {"E": "1e-3r", "pt": "1e-3r", "eta": "1e-3", "phi": "1e-3"} | changes
    return ",".join(f"{k}={v}" for k, v in terms.items())


EXAMPLES = f"(e.g. 1e-3, or {TERMS})"
MESSAGES = [
    ("0", "a maximum error must be positive, got 0"),
    ("-1", "a maximum error must be positive, got -1"),
    (" -1e-3 ", "a maximum error must be positive, got -1e-3"),
    ("abc", f"the maximum error 'abc' is neither a number nor NAME=VALUE terms {EXAMPLES}"),
    ("0,1", f"the maximum error '0,1' is neither a number nor NAME=VALUE terms {EXAMPLES}"),
    ("", f"the maximum error is empty: give one number (e.g. 1e-3) or NAME=VALUE terms (e.g. {TERMS})"),
    ("nan", "a maximum error must be a finite number, got nan"),
    ("inf", "a maximum error must be a finite number, got inf"),
    ("1", "a single maximum error must be below 1 (it is relative on E and pt), got 1"),
    ("2.5", "a single maximum error must be below 1 (it is relative on E and pt), got 2.5"),
    (
        "1e-3r",
        "a single maximum error takes no 'r' (it is relative on E and pt and absolute on eta and phi "
        "already): give 1e-3, not 1e-3r",
    ),
    (_terms(E="0r"), "the maximum error of E must be positive, got 0r"),
    (_terms(eta="-2e-3"), "the maximum error of eta must be positive, got -2e-3"),
    (_terms(pt="1e999r"), "the maximum error of pt must be a finite number, got 1e999r"),
    (_terms(pt="1r"), "the relative maximum error of pt must be below 1, got 1r"),
    (_terms(E="0.5r", pt="2r"), "the relative maximum error of pt must be below 1, got 2r"),
    (_terms(phi="1.6"), f"the maximum error of phi must be below pi/2 ({PHI_LIMIT:.4f} rad), got 1.6"),
    (
        _terms(E="1e-3"),
        "the maximum error of E must be relative ('r' after the number, e.g. 1e-3r): "
        "the codec bounds E and pt relative to each value",
    ),
    (
        _terms(eta="1e-3r"),
        "the maximum error of eta must be absolute (no 'r' after the number, e.g. 1e-3): "
        "the codec bounds eta and phi in their units",
    ),
    (
        _terms(phi="2e-3 r"),
        "the maximum error of phi must be absolute (no 'r' after the number, e.g. 2e-3): "
        "the codec bounds eta and phi in their units",
    ),
    (
        _terms(E="abc"),
        "the maximum error of E, 'abc', is not a number (with 'r' after it for a relative bound, e.g. 1e-3r)",
    ),
    (
        _terms(E="1e-3R"),
        "the maximum error of E, '1e-3R', is not a number (with 'r' after it for a relative bound, e.g. 1e-3r)",
    ),
    (
        _terms(E=""),
        "the maximum error of E, '', is not a number (with 'r' after it for a relative bound, e.g. 1e-3r)",
    ),
    (
        "Pt=1e-3r,E=1e-3r,eta=1e-3,phi=1e-3",
        "the maximum error names 'Pt', which is not a jet variable (E, pt, eta, phi); did you mean 'pt'?",
    ),
    (
        "mass=1e-3r",
        "the maximum error names 'mass', which is not a jet variable (E, pt, eta, phi)",
    ),
    (
        "E=1e-3r,pt=1e-3r,E=2e-3r,eta=1e-3,phi=1e-3",
        "the maximum error of E is given twice in 'E=1e-3r,pt=1e-3r,E=2e-3r,eta=1e-3,phi=1e-3'",
    ),
    (
        "E=1e-3r,pt=1e-3r",
        "the maximum error gives no bound for eta, phi (give one number, or a bound for each of E, pt, eta, phi)",
    ),
    (
        "E=1e-3r,,pt=1e-3r,eta=1e-3,phi=1e-3",
        "the maximum error 'E=1e-3r,,pt=1e-3r,eta=1e-3,phi=1e-3' has an empty term (check the commas)",
    ),
    (f"{TERMS},", f"the maximum error '{TERMS},' has an empty term (check the commas)"),
    ("1e-3,pt=1e-3r", "the maximum error term '1e-3' is not NAME=VALUE or NAME=VALUEr (e.g. pt=1e-3r)"),
    ("=1e-3", "the maximum error term '=1e-3' names no variable"),
]


@pytest.mark.parametrize(("spec", "message"), MESSAGES)
def test_message_of_each_mistake(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_max_error(spec)
    assert str(caught.value) == message


def test_a_long_spec_is_cut_in_messages() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_max_error("x" * 500)
    assert "x" * 57 + "..." in str(caught.value)
    assert "x" * 58 not in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (0, "a maximum error must be positive, got 0"),
        (0.0, "a maximum error must be positive, got 0.0"),
        (-1e-3, "a maximum error must be positive, got -0.001"),
        (math.nan, "a maximum error must be a finite number, got nan"),
        (math.inf, "a maximum error must be a finite number, got inf"),
        (1.0, "a single maximum error must be below 1 (it is relative on E and pt), got 1.0"),
        (
            True,
            "a maximum error must be a number, NAME=VALUE terms, a mapping of variables to bounds or "
            "JetBounds, not bool",
        ),
        (
            None,
            "a maximum error must be a number, NAME=VALUE terms, a mapping of variables to bounds or "
            "JetBounds, not NoneType",
        ),
    ],
)
def test_numbers_and_other_types(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_max_error(spec)
    assert str(caught.value) == message


@pytest.mark.parametrize("spec", [1e-3, np.float32(1e-3), np.float64(1e-3), "1e-3"])
def test_a_number_is_uniform(spec: Any) -> None:
    assert parse_max_error(spec) == JetBounds.uniform(float(spec))


def test_a_mapping() -> None:
    expected = parse_max_error("E=1e-3r,pt=2e-3r,eta=3e-3,phi=4e-3")
    assert parse_max_error({"E": "1e-3r", "pt": " 2e-3 r ", "eta": "3e-3", "phi": 4e-3}) == expected
    # a number is taken as the single number is: relative on E and pt, absolute on eta and phi
    assert parse_max_error({"E": 1e-3, "pt": 2e-3, "eta": 3e-3, "phi": 4e-3}) == expected
    bounds = {
        "E": ErrorBound("relative", 1e-3),
        "pt": ErrorBound("relative", 2e-3),
        "eta": ErrorBound("absolute", 3e-3),
        "phi": ErrorBound("absolute", 4e-3),
    }
    assert parse_max_error(bounds) == expected
    assert parse_max_error(bounds, {"pt": 0.5}).to_dict() == expected.to_dict() | {
        "pt": {"kind": "relative", "value": 2e-3, "abs_floor": 0.5}
    }


MAPPING = {"E": "1e-3r", "pt": "1e-3r", "eta": 1e-3, "phi": 1e-3}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"E": 0}, "the maximum error of E must be positive, got 0"),
        ({"eta": -1.0}, "the maximum error of eta must be positive, got -1.0"),
        ({"eta": math.nan}, "the maximum error of eta must be a finite number, got nan"),
        ({"pt": 1.5}, "the relative maximum error of pt must be below 1, got 1.5"),
        ({"phi": 2.0}, f"the maximum error of phi must be below pi/2 ({PHI_LIMIT:.4f} rad), got 2.0"),
        (
            {"pt": "1e-3"},
            "the maximum error of pt must be relative ('r' after the number, e.g. 1e-3r): "
            "the codec bounds E and pt relative to each value",
        ),
        (
            {"eta": ErrorBound("relative", 0.01)},
            "the maximum error of eta must be absolute (no 'r' after the number, e.g. 0.01): "
            "the codec bounds eta and phi in their units",
        ),
        (
            {"ETA": 1e-3},
            "the maximum error names 'ETA', which is not a jet variable (E, pt, eta, phi); did you mean 'eta'?",
        ),
        ({3: 1e-3}, "the maximum error's variable names must be strings, got 3 (int)"),
        (
            {"pt": [1e-3]},
            "the maximum error of pt must be a number, a term's value such as '1e-3r' or an ErrorBound, not list",
        ),
        (
            {"pt": True},
            "the maximum error of pt must be a number, a term's value such as '1e-3r' or an ErrorBound, not bool",
        ),
    ],
)
def test_mapping_messages(changes: dict[Any, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_max_error(MAPPING | changes)
    assert str(caught.value) == message


def test_a_mapping_missing_variables() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_max_error({"pt": "1e-3r"})
    assert str(caught.value) == (
        "the maximum error gives no bound for E, eta, phi (give one number, or a bound for each of E, pt, eta, phi)"
    )


def test_jet_bounds_pass_through_with_new_floors() -> None:
    bounds = JetBounds.uniform(1e-3)
    assert parse_max_error(bounds) is bounds
    floored = parse_max_error(bounds, "E=0.5")
    assert (floored.E_floor, floored.pt_floor, floored.E) == (0.5, 0.0, bounds.E)


@pytest.mark.parametrize(
    ("floor", "expected"),
    [
        ("0.01", {"E": 0.01, "pt": 0.01}),
        (" 0 ", {"E": 0.0, "pt": 0.0}),
        ("E=0.5", {"E": 0.5, "pt": 0.0}),
        (" pt = 1 , E=2 ", {"E": 2.0, "pt": 1.0}),
        (0.25, {"E": 0.25, "pt": 0.25}),
        (2, {"E": 2.0, "pt": 2.0}),
        ({"pt": 0.3}, {"E": 0.0, "pt": 0.3}),
        ({"E": "0.1", "pt": 0}, {"E": 0.1, "pt": 0.0}),
    ],
)
def test_parse_abs_floor(floor: Any, expected: dict[str, float]) -> None:
    assert parse_abs_floor(floor) == expected


@pytest.mark.parametrize(
    ("floor", "message"),
    [
        ("-1", "an absolute floor must be >= 0 (GeV), got -1"),
        (-0.5, "an absolute floor must be >= 0 (GeV), got -0.5"),
        ("nan", "an absolute floor must be a finite number, got nan"),
        (math.inf, "an absolute floor must be a finite number, got inf"),
        (
            "abc",
            "the absolute floor 'abc' is neither a number nor E=VALUE,pt=VALUE terms (e.g. E=0.01,pt=0.01)",
        ),
        ("", "the absolute floor is empty: give one number (GeV) or E=VALUE,pt=VALUE terms"),
        ("eta=1", "the absolute floor names eta, but floors apply to the relative bounds of E and pt only"),
        ("Pt=1", "the absolute floor names 'Pt', not E or pt; did you mean 'pt'?"),
        ("mass=1", "the absolute floor names 'mass', not E or pt"),
        ("E=1,E=2", "the absolute floor of E is given twice in 'E=1,E=2'"),
        ("E=1,,pt=2", "the absolute floor 'E=1,,pt=2' has an empty term (check the commas)"),
        ("E=1,", "the absolute floor 'E=1,' has an empty term (check the commas)"),
        ("E=x", "the absolute floor of E, 'x', is not a number"),
        ("E=-1", "the absolute floor of E must be >= 0 (GeV), got -1"),
        ("pt=inf", "the absolute floor of pt must be a finite number, got inf"),
        ("E=1,pt", "the absolute floor term 'pt' is not E=VALUE or pt=VALUE"),
        ("=1", "the absolute floor term '=1' is not E=VALUE or pt=VALUE"),
        (
            {"phi": 1.0},
            "the absolute floor names phi, but floors apply to the relative bounds of E and pt only",
        ),
        ({"E": "x"}, "the absolute floor of E, 'x', is not a number"),
        ({"E": None}, "the absolute floor of E must be a number, not NoneType"),
        ({1: 0.1}, "the absolute floor's variable names must be strings, got 1 (int)"),
        (False, "an absolute floor must be a number, E=VALUE,pt=VALUE terms or a mapping, not bool"),
    ],
)
def test_floor_messages(floor: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_abs_floor(floor)
    assert str(caught.value) == message
    with pytest.raises(ConfigError) as again:
        parse_max_error("1e-3", floor)
    assert str(again.value) == message


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        parse_max_error("0")


_relative = st.floats(min_value=1e-12, max_value=RELATIVE_LIMIT, exclude_max=True)
_absolute = st.floats(min_value=1e-12, max_value=1e6)
_phi = st.floats(min_value=1e-12, max_value=PHI_LIMIT, exclude_max=True)


@given(e=_relative, pt=_relative, eta=_absolute, phi=_phi, spaces=st.booleans())
def test_terms_give_their_numbers(e: float, pt: float, eta: float, phi: float, spaces: bool) -> None:
    sep = " , " if spaces else ","
    spec = sep.join([f"phi={phi!r}", f"E={e!r}r", f"eta={eta!r}", f"pt={pt!r}r"])
    bounds = parse_max_error(spec)
    assert (bounds.E.value, bounds.pt.value, bounds.eta.value, bounds.phi.value) == (e, pt, eta, phi)
    assert bounds == parse_max_error({"E": e, "pt": pt, "eta": eta, "phi": phi})


@given(st.text(max_size=40))
def test_any_text_parses_or_gives_one_line(text: str) -> None:
    try:
        parse_max_error(text)
    except ConfigError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message or "\n" in text

"""Per-event physics quantities, computed the same way on original and reconstructed jets.

Jets are rows; the ``event`` column groups them. Everything is vectorised: events are found with
``np.unique`` and per-event sums with ``np.bincount``; the two leading jets come from one ``lexsort``
by (event, -pt). Quantities (GeV):

- ``mjj``: invariant mass of the two highest-pt jets (NaN for events with fewer than two jets), from
  (E, pt, eta, phi) or (m, pt, eta, phi); a negative m^2 (possible for reconstructed jets with E < |p|)
  gives 0 and is counted.
- ``ht``: scalar sum of the pt of every jet in the event.
- ``njets_ptXX``: number of jets with pt > XX GeV.
- ``met``: the event's ``MET`` (or NanoAOD ``MET_pt``) column (first row of the event), when the table
  has one.

Rows are jets unless a mask says which are (:func:`jet_rows`: in a DarkMachines table of objects, the
``j`` and ``b`` rows; leptons and photons count in no jet quantity, events without jets have HT = 0).

Per jet, :func:`jet_masses` gives the mass implied by the four-vector, signed: ``-sqrt(-m^2)`` for jets
with E < |p|. Compressing E and pt separately can make many reconstructed jets unphysical this way,
since m^2 = E^2 - |p|^2 is a small difference of large numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ColumnError, InputError
from hepsqueeze.io.formats.darkmachines import OBJECT_TYPES
from hepsqueeze.io.table import Table
from hepsqueeze.metrics.residuals import distribution_stats, ks_statistic
from hepsqueeze.plotting.style import branch_variable

DEFAULT_THRESHOLDS: Final = (20.0, 30.0, 50.0)
EVENT_COLUMN: Final = "event"
MET_NAMES: Final = ("met", "met_pt", "missinget", "missing_et")
#: The column of object type codes (DarkMachines: :data:`OBJECT_TYPES`) and the types that are jets.
OBJECT_COLUMN: Final = "object"
JET_OBJECTS: Final = ("j", "b")

Array = npt.NDArray[np.float64]


def kinematic_columns(
    names: Sequence[str], columns: Sequence[str] | None = None, variables: Sequence[str] | None = None
) -> dict[str, str] | None:
    """Map ``pt, eta, phi`` and ``E`` or ``m`` onto table columns; None when the table lacks them.

    ``columns``/``variables`` (a model's mapping) take precedence; otherwise names are matched
    case-insensitively, then by branch suffix (``Jet_pt``, ``Jet_mass``: :func:`branch_variable`). E wins
    over m when both are present.
    """
    found: dict[str, str] = {}
    if columns is not None and variables is not None:
        for var, col in zip(variables, columns, strict=True):
            if col in names:
                found.setdefault(var.lower(), col)
    for n in names:
        found.setdefault(n.lower(), n)
    for n in names:  # ROOT branches: Jet_pt, Jet_eta, Jet_phi, Jet_mass
        found.setdefault(branch_variable(n).lower(), n)
    if not all(k in found for k in ("pt", "eta", "phi")) or not ("e" in found or "m" in found):
        return None
    out = {"pt": found["pt"], "eta": found["eta"], "phi": found["phi"]}
    if "e" in found:
        out["E"] = found["e"]
    else:
        out["m"] = found["m"]
    return out


def met_column(names: Sequence[str]) -> str | None:
    """The missing-transverse-energy column (``MET``, NanoAOD's ``MET_pt``, any case), if any."""
    for n in names:
        if n.lower() in MET_NAMES:
            return n
    return None


def jet_rows(table: Table) -> npt.NDArray[np.bool_] | None:
    """Which rows of ``table`` are jets: with an integer ``object`` column (DarkMachines type codes),
    the rows of types ``j`` and ``b``; None (every row is a jet) without one."""
    if OBJECT_COLUMN not in table or table[OBJECT_COLUMN].dtype.kind not in "iu":
        return None
    codes = [OBJECT_TYPES.index(t) for t in JET_OBJECTS]
    mask: npt.NDArray[np.bool_] = np.isin(table[OBJECT_COLUMN], codes)
    return mask


def event_quantities(
    table: Table,
    kinematics: Mapping[str, str],
    *,
    event: npt.NDArray[Any] | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    met: str | None = None,
    jets: npt.NDArray[np.bool_] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Per-event quantities (see the module docstring), one entry per distinct event id, in id order.

    ``kinematics`` maps ``pt, eta, phi`` and ``E`` or ``m`` to columns of ``table``; ``event`` defaults to
    the table's ``event`` column (pass the original's to evaluate reconstructed rows matched in order);
    ``jets``: which rows are jets (default: all; see :func:`jet_rows`). The result also holds ``event``
    (the ids) and ``n_negative_m2`` (a 0-d count).
    """
    ev = np.asarray(table[EVENT_COLUMN] if event is None else event)
    if ev.shape[0] != table.num_rows:
        raise InputError(f"event column has {ev.shape[0]} rows, {table.source} has {table.num_rows}")
    pt = np.asarray(table[kinematics["pt"]], dtype=np.float64)
    eta = np.asarray(table[kinematics["eta"]], dtype=np.float64)
    phi = np.asarray(table[kinematics["phi"]], dtype=np.float64)
    if "E" in kinematics:
        energy = np.asarray(table[kinematics["E"]], dtype=np.float64)
    elif "m" in kinematics:
        mass = np.asarray(table[kinematics["m"]], dtype=np.float64)
        energy = np.sqrt(mass**2 + (pt * np.cosh(eta)) ** 2)
    else:
        raise ColumnError("event quantities need an energy (E) or mass (m) column")

    is_jet = np.ones(ev.shape[0], dtype=bool) if jets is None else np.asarray(jets, dtype=bool)
    if is_jet.shape != ev.shape:
        raise InputError(f"jet mask has {is_jet.shape[0]} rows, {table.source} has {table.num_rows}")
    ids, first, inverse, counts = np.unique(ev, return_index=True, return_inverse=True, return_counts=True)
    n_events = ids.size
    out: dict[str, npt.NDArray[Any]] = {"event": ids}
    out["ht"] = np.bincount(inverse, weights=np.where(is_jet, pt, 0.0), minlength=n_events)
    for thr in thresholds:
        out[multiplicity_key(thr)] = np.bincount(
            inverse, weights=(pt > thr) & is_jet, minlength=n_events
        ).astype(np.int64)

    # Leading and subleading jet of each event: rows sorted by (event, not a jet, -pt).
    order = np.lexsort((-pt, ~is_jet, inverse))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    two = np.bincount(inverse, weights=is_jet, minlength=n_events) >= 2
    j1 = order[starts[two]]
    j2 = order[starts[two] + 1]
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    m2 = (
        (energy[j1] + energy[j2]) ** 2
        - (px[j1] + px[j2]) ** 2
        - (py[j1] + py[j2]) ** 2
        - (pz[j1] + pz[j2]) ** 2
    )
    mjj = np.full(n_events, np.nan)
    mjj[two] = np.sqrt(np.maximum(m2, 0.0))
    out["mjj"] = mjj
    out["n_negative_m2"] = np.asarray(int(np.count_nonzero(m2 < 0)))
    if met is not None:
        out["met"] = np.asarray(table[met], dtype=np.float64)[first]
    return out


def jet_masses(
    table: Table, kinematics: Mapping[str, str], jets: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.float64]:
    """Each jet's invariant mass in GeV, signed: ``sqrt(m^2)``, or ``-sqrt(-m^2)`` where E < |p|.

    With an ``m`` column (and no ``E``) it is that column. ``jets``: which rows are jets (default all).
    """
    keep = slice(None) if jets is None else np.asarray(jets, dtype=bool)
    if "E" not in kinematics:
        return np.asarray(table[kinematics["m"]], dtype=np.float64)[keep]
    energy = np.asarray(table[kinematics["E"]], dtype=np.float64)[keep]
    p = np.asarray(table[kinematics["pt"]], dtype=np.float64)[keep] * np.cosh(
        np.asarray(table[kinematics["eta"]], dtype=np.float64)[keep]
    )
    m2 = (energy - p) * (energy + p)
    out: npt.NDArray[np.float64] = np.sign(m2) * np.sqrt(np.abs(m2))
    return out


def jet_mass_summary(m_in: npt.NDArray[Any], m_out: npt.NDArray[Any]) -> dict[str, Any]:
    """Per-jet mass comparison: fraction of unphysical jets (m^2 < 0) and :func:`compare_quantity`."""
    a = np.asarray(m_in, dtype=np.float64)
    b = np.asarray(m_out, dtype=np.float64)
    return {
        "n": int(a.size),
        "negative_m2_fraction": {
            "original": float(np.mean(a < 0)) if a.size else float("nan"),
            "reconstructed": float(np.mean(b < 0)) if b.size else float("nan"),
        },
        "mass": compare_quantity(a, b),
    }


def multiplicity_key(threshold: float) -> str:
    """Name of the jet-multiplicity quantity for ``threshold`` GeV, e.g. ``njets_pt30``."""
    return f"njets_pt{threshold:g}"


def compare_quantity(original: npt.NDArray[Any], reconstructed: npt.NDArray[Any]) -> dict[str, Any]:
    """Shift of one per-event quantity: means, medians, stds, their differences, KS, per-event change.

    ``mean_shift`` is ``mean(out) - mean(in)`` with ``mean_shift_err`` the standard error of the mean
    per-event difference; ``rel_mean_shift``/``rel_median_shift`` divide by the input's mean/median;
    ``per_event`` summarises ``out - in`` event by event (NaN events, e.g. single-jet mjj, dropped) and
    ``per_event_relative`` ``(out - in) / in`` where ``in != 0``; ``changed_fraction`` the fraction
    of events whose value differs (for counts).
    """
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(reconstructed, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[ok], y[ok]
    nan = float("nan")
    if xs.size == 0:
        return {"n": 0}
    mean_in, mean_out = float(xs.mean()), float(ys.mean())
    med_in, med_out = float(np.median(xs)), float(np.median(ys))
    diff = ys - xs
    nz = xs != 0
    return {
        "n": int(xs.size),
        "n_undefined": int(np.count_nonzero(~ok)),
        "mean_in": mean_in,
        "mean_out": mean_out,
        "mean_shift": mean_out - mean_in,
        "mean_shift_err": float(diff.std() / np.sqrt(diff.size)),
        "rel_mean_shift": (mean_out - mean_in) / mean_in if mean_in != 0 else nan,
        "median_in": med_in,
        "median_out": med_out,
        "rel_median_shift": (med_out - med_in) / med_in if med_in != 0 else nan,
        "std_in": float(xs.std()),
        "std_out": float(ys.std()),
        "ks": ks_statistic(x, y),
        "changed_fraction": float(np.mean(diff != 0)),
        "per_event": distribution_stats(diff),
        "per_event_relative": distribution_stats(diff[nz] / xs[nz]),
    }


def physics_summary(
    q_in: Mapping[str, npt.NDArray[Any]], q_out: Mapping[str, npt.NDArray[Any]]
) -> dict[str, Any]:
    """:func:`compare_quantity` for every per-event quantity both dicts hold (JSON-able)."""
    skip = {"event", "n_negative_m2"}
    out: dict[str, Any] = {
        "n_events": int(np.asarray(q_in["event"]).size),
        "n_negative_m2": {
            "original": int(q_in["n_negative_m2"]),
            "reconstructed": int(q_out["n_negative_m2"]),
        },
        "quantities": {},
    }
    for key in q_in:
        if key in skip or key not in q_out:
            continue
        out["quantities"][key] = compare_quantity(q_in[key], q_out[key])
    return out


#: Auxiliary tables that may hold the jets (when the main table does not), matched case-insensitively.
JET_TABLES: Final = ("jet", "jets")


def physics_inputs(
    pairs: Mapping[str, tuple[Table, Table]],
    main: str,
    columns: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """Where the physics checks find their inputs among ``pairs`` (table key -> (original,
    reconstructed); ``main`` the main table's key, whose ``columns``/``variables`` hint the
    kinematics): the jets' table (the main one, else one named ``Jet``/``jets``) with its ``event``
    column and kinematics, and the MET column (in the jets' table, else in any table, one row per
    event). Returns ``({"table", "kinematics", "met_table", "met_column"}, "")`` or ``(None, why)``."""
    order = [main] + [k for k in pairs if k != main and k.lower() in JET_TABLES]
    found: dict[str, Any] | None = None
    for key in order:
        orig, reco = pairs[key]
        if EVENT_COLUMN not in orig:
            continue
        hint = (columns, variables) if key == main else (None, None)
        kin = kinematic_columns(orig.names, *hint)
        if kin is not None and all(c in reco for c in kin.values()):
            found = {"table": key, "kinematics": kin, "met_table": None, "met_column": None}
            break
    if found is None:
        if not any(EVENT_COLUMN in p[0] for p in pairs.values()):
            return None, f"no {EVENT_COLUMN!r} column: per-event physics checks skipped"
        return None, "physics checks need pt, eta, phi and E or m columns in both tables: skipped"
    for key in [found["table"]] + [k for k in pairs if k != found["table"]]:
        met = met_column(pairs[key][0].names)
        if met is not None and met in pairs[key][1]:
            found["met_table"], found["met_column"] = key, met
            break
    return found, ""


def physics_arrays(
    phys: Mapping[str, Any], pairs: Mapping[str, tuple[Table, Table]]
) -> tuple[
    dict[str, npt.NDArray[Any]],
    dict[str, npt.NDArray[Any]],
    npt.NDArray[np.float64] | None,
    npt.NDArray[np.float64] | None,
]:
    """The per-event quantities of the original and the reconstruction and their jets' masses, from
    the inputs ``phys`` names (:func:`physics_inputs` plus ``thresholds``).

    MET in another table than the jets is taken row by row (one row per event)."""
    kin = dict(phys["kinematics"])
    thresholds = [float(t) for t in phys["thresholds"]]
    orig, reco = pairs[phys["table"]]
    same = phys.get("met_table") == phys["table"]
    met = phys.get("met_column") if same else None
    ev = orig[EVENT_COLUMN]
    jets = jet_rows(orig)
    q_in = event_quantities(orig, kin, event=ev, thresholds=thresholds, met=met, jets=jets)
    q_out = event_quantities(reco, kin, event=ev, thresholds=thresholds, met=met, jets=jets)
    if phys.get("met_column") and not same:
        met_in, met_out = pairs[phys["met_table"]]
        q_in["met"] = np.asarray(met_in[phys["met_column"]], dtype=np.float64)
        q_out["met"] = np.asarray(met_out[phys["met_column"]], dtype=np.float64)
    return q_in, q_out, jet_masses(orig, kin, jets), jet_masses(reco, kin, jets)

"""Event-level physics on final-state particle arrays: isolation, MET, b- and c-hadron labels, DarkMachines lines.

Everything here is plain numpy on one event's particles (GeV, radians), so it is testable without
Pythia. Angular distances for isolation and b-labels use pseudorapidity (detector-like cones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hepsqueeze.metrics.delta_phi import delta_phi

Float = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: Isolated-object candidates: electrons, muons and photons above this pt (GeV) and below |eta| max.
ISOLATION_PT_MIN = 10.0
ISOLATION_ETA_MAX = 2.5
#: Cone radius and the largest fraction of the candidate's pt the other visible particles may carry.
ISOLATION_CONE = 0.3
ISOLATION_FRACTION = 0.15
#: A jet is b-labelled when a weakly decaying b-hadron above this pt (GeV) lies within ``B_LABEL_DR``.
B_HADRON_PT_MIN = 5.0
B_LABEL_DR = 0.4
#: Visible particles within this |eta| enter the visible MET and sumEt (a calorimeter's reach).
VISIBLE_ETA_MAX = 5.0

#: DarkMachines object labels of isolated particles by PDG id.
_OBJECT_LABELS = {11: "e-", -11: "e+", 13: "m-", -13: "m+", 22: "g", -22: "g"}
_MEV_PER_GEV = 1000.0


@dataclass
class Particles:
    """Final-state particles of one event: four-momenta (GeV), PDG ids and flags, in record order."""

    px: Float
    py: Float
    pz: Float
    e: Float
    pid: npt.NDArray[np.int64]
    charged: Bool
    visible: Bool

    def __len__(self) -> int:
        return int(self.px.size)

    @property
    def pt(self) -> Float:
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> Float:
        """Pseudorapidity; +-inf for particles along the beam (pt = 0)."""
        with np.errstate(divide="ignore"):
            return np.arcsinh(np.divide(self.pz, self.pt))

    @property
    def phi(self) -> Float:
        return np.arctan2(self.py, self.px)


def isolated_mask(particles: Particles) -> Bool:
    """True for isolated electrons, muons and photons (pt > 10 GeV, |eta| < 2.5).

    Isolated: the other visible particles within dR(eta, phi) < 0.3 carry less than 15% of its pt.
    """
    pt, eta, phi = particles.pt, particles.eta, particles.phi
    candidate = (
        particles.visible
        & np.isin(np.abs(particles.pid), (11, 13, 22))
        & (pt > ISOLATION_PT_MIN)
        & (np.abs(eta) < ISOLATION_ETA_MAX)
    )
    result = np.zeros(len(particles), dtype=np.bool_)
    index = np.flatnonzero(candidate)
    if index.size == 0:
        return result
    cone_pt = _cone_sums(pt, eta, phi, particles.visible, index)
    result[index] = cone_pt < ISOLATION_FRACTION * pt[index]
    return result


def cone_pt_sums(particles: Particles, index: npt.NDArray[np.intp]) -> Float:
    """Scalar pt sum (GeV) of the other visible particles within dR(eta, phi) < 0.3 of each ``particles[index]``.

    Divided by the particle's pt this is the relative isolation that :func:`isolated_mask` cuts on.
    """
    if index.size == 0:
        return np.zeros(0, dtype=np.float64)
    return _cone_sums(particles.pt, particles.eta, particles.phi, particles.visible, index)


def _cone_sums(pt: Float, eta: Float, phi: Float, visible: Bool, index: npt.NDArray[np.intp]) -> Float:
    others = np.flatnonzero(visible)
    with np.errstate(invalid="ignore"):  # inf - inf for particles along the beam: never in the cone
        d_eta = eta[index, None] - eta[None, others]
    dr2 = d_eta**2 + delta_phi(phi[index, None], phi[None, others]) ** 2
    in_cone = (dr2 < ISOLATION_CONE**2) & (index[:, None] != others[None, :])
    return np.asarray(np.where(in_cone, pt[None, others], 0.0).sum(axis=1), dtype=np.float64)


def missing_et(particles: Particles) -> tuple[float, float]:
    """(MET in GeV, METphi in radians) from the summed transverse momentum of invisible particles.

    METphi is 0 when there is no invisible particle.
    """
    invisible = ~particles.visible
    if not np.any(invisible):
        return 0.0, 0.0
    px = float(particles.px[invisible].sum())
    py = float(particles.py[invisible].sum())
    return math.hypot(px, py), math.atan2(py, px)


def b_labels(jet_eta: Float, jet_phi: Float, b_eta: Float, b_phi: Float) -> Bool:
    """True for jets with a b-hadron (already selected) within dR(eta, phi) < 0.4 of the jet axis."""
    if jet_eta.size == 0 or b_eta.size == 0:
        return np.zeros(jet_eta.size, dtype=np.bool_)
    dr2 = (jet_eta[:, None] - b_eta[None, :]) ** 2 + delta_phi(jet_phi[:, None], b_phi[None, :]) ** 2
    return np.asarray(np.any(dr2 < B_LABEL_DR**2, axis=1))


def hadron_flavours(
    jet_eta: Float, jet_phi: Float, *, b_eta: Float, b_phi: Float, c_eta: Float, c_phi: Float
) -> npt.NDArray[np.int32]:
    """NanoAOD-style ``hadronFlavour`` per jet: 5 with a b-hadron within dR < 0.4 (as :func:`b_labels`),
    else 4 with a c-hadron within dR < 0.4, else 0."""
    is_b = b_labels(jet_eta, jet_phi, b_eta, b_phi)
    is_c = b_labels(jet_eta, jet_phi, c_eta, c_phi)
    return np.where(is_b, 5, np.where(is_c, 4, 0)).astype(np.int32)


def visible_met(particles: Particles, eta_max: float = VISIBLE_ETA_MAX) -> tuple[float, float, float]:
    """(MET, METphi, sumEt) of the visible particles with |eta| < ``eta_max``: GeV, radians, GeV.

    MET is the size of minus their vector pt sum (METphi 0 without such particles); sumEt is the
    scalar sum of their transverse energies E sin(theta) = E pt / |p|.
    """
    pt = particles.pt
    keep = particles.visible & (np.abs(particles.eta) < eta_max)
    if not np.any(keep):
        return 0.0, 0.0, 0.0
    px = -float(particles.px[keep].sum())
    py = -float(particles.py[keep].sum())
    p = np.sqrt(pt[keep] ** 2 + particles.pz[keep] ** 2)
    sum_et = float(np.sum(particles.e[keep] * pt[keep] / p))
    return math.hypot(px, py), math.atan2(py, px), sum_et


def object_label(pid: int) -> str:
    """DarkMachines label (``e-``, ``e+``, ``m-``, ``m+``, ``g``) of an isolated particle."""
    return _OBJECT_LABELS[pid]


@dataclass(frozen=True)
class EventObject:
    """One reconstructed object: DarkMachines label, E and pt (GeV), eta, phi (radians)."""

    label: str
    e: float
    pt: float
    eta: float
    phi: float


def _g(value: float) -> str:
    # C++ stream default (6 significant digits), the format of the published DarkMachines files.
    return f"{value:.6g}"


def darkmachines_line(
    event: int, process: str, met: float, met_phi: float, objects: Sequence[EventObject]
) -> str:
    """``event;process;1;MET;METphi;obj,E,pt,eta,phi;...;`` with MET, E and pt in MeV, objects by descending pt."""
    ordered = sorted(objects, key=lambda o: -o.pt)
    parts = [str(event), process, "1", _g(met * _MEV_PER_GEV), _g(met_phi)]
    parts += [
        f"{o.label},{_g(o.e * _MEV_PER_GEV)},{_g(o.pt * _MEV_PER_GEV)},{_g(o.eta)},{_g(o.phi)}"
        for o in ordered
    ]
    return ";".join(parts) + ";"

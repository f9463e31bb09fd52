"""Event-level physics on final-state particle arrays: isolation, MET, b-hadron labels, DarkMachines lines.

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
    others = np.flatnonzero(particles.visible)
    with np.errstate(invalid="ignore"):  # inf - inf for particles along the beam: never in the cone
        d_eta = eta[index, None] - eta[None, others]
    dr2 = d_eta**2 + delta_phi(phi[index, None], phi[None, others]) ** 2
    in_cone = (dr2 < ISOLATION_CONE**2) & (index[:, None] != others[None, :])
    cone_pt = np.where(in_cone, pt[None, others], 0.0).sum(axis=1)
    result[index] = cone_pt < ISOLATION_FRACTION * pt[index]
    return result


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

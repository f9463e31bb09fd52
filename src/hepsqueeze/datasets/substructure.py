"""Jet substructure from a jet's constituents, in numpy: the constituent-based ``jets27d`` variables.

Conventions (docs/generator.md has the full definitions): shapes (widths, axes) use pseudorapidity
and azimuth relative to the jet axis, like the experiments' quark/gluon variables; N-subjettiness and
C2 use rapidity-azimuth distances, like FastJet and fjcontrib. pt in GeV; distances are plain
numbers in the (eta or y, phi) plane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hepsqueeze.metrics.delta_phi import delta_phi

Float = npt.NDArray[np.float64]

#: Names of the values :func:`constituent_variables` returns, in order.
CONSTITUENT_VARIABLES: tuple[str, ...] = (
    "n_constituents",
    "n_charged",
    "n90",
    "charged_fraction",
    "photon_fraction",
    "neutral_hadron_fraction",
    "width",
    "width_eta",
    "width_phi",
    "axis_major",
    "axis_minor",
    "ptD",
    "lead_pt",
    "lead_fraction",
    "tau1",
    "tau2",
    "tau3",
    "tau21",
    "tau32",
    "C2",
)


@dataclass
class Constituents:
    """One jet's constituents: pt, E (GeV), eta, rapidity, phi, PDG id, charged flag."""

    pt: Float
    e: Float
    eta: Float
    rap: Float
    phi: Float
    pid: npt.NDArray[np.int64]
    charged: npt.NDArray[np.bool_]


def constituent_variables(
    c: Constituents,
    *,
    jet_e: float,
    jet_pt: float,
    jet_eta: float,
    jet_phi: float,
    axes: Sequence[tuple[Float, Float]],
    r0: float,
) -> tuple[float, ...]:
    """The :data:`CONSTITUENT_VARIABLES` of one jet (non-empty ``c``).

    ``axes[k]`` holds the (rapidity, phi) arrays of the k+1 exclusive-kt axes, for as many
    N = 1, 2, 3 as the jet has constituents; tau_N is 0 where there are fewer constituents than N.
    ``r0`` is the jet radius that normalises N-subjettiness.
    """
    n = c.pt.size
    sum_pt = float(c.pt.sum())

    # N90: constituents by descending pt, the fewest whose scalar pt sum reaches 90% of the total.
    ordered = np.sort(c.pt)[::-1]
    n90 = int(np.searchsorted(np.cumsum(ordered), 0.9 * sum_pt, side="left")) + 1
    n90 = min(n90, n)

    photon = c.pid == 22
    neutral_hadron = ~c.charged & ~photon
    charged_fraction = float(c.e[c.charged].sum()) / jet_e
    photon_fraction = float(c.e[photon].sum()) / jet_e
    neutral_hadron_fraction = float(c.e[neutral_hadron].sum()) / jet_e

    weight = c.pt / sum_pt
    d_eta = c.eta - jet_eta
    d_phi = delta_phi(c.phi, jet_phi)
    width = float(np.dot(weight, np.sqrt(d_eta**2 + d_phi**2)))
    # pt-weighted covariance of (eta, phi) about the weighted centroid: its eigenvalues are the
    # squared major and minor axes of the jet's shape.
    m_eta, m_phi = float(np.dot(weight, d_eta)), float(np.dot(weight, d_phi))
    c_ee = float(np.dot(weight, (d_eta - m_eta) ** 2))
    c_pp = float(np.dot(weight, (d_phi - m_phi) ** 2))
    c_ep = float(np.dot(weight, (d_eta - m_eta) * (d_phi - m_phi)))
    half_trace, root = 0.5 * (c_ee + c_pp), math.hypot(0.5 * (c_ee - c_pp), c_ep)
    axis_major = math.sqrt(max(half_trace + root, 0.0))
    axis_minor = math.sqrt(max(half_trace - root, 0.0))

    pt_d = math.sqrt(float(np.dot(c.pt, c.pt))) / sum_pt
    lead_pt = float(ordered[0])

    taus = [0.0, 0.0, 0.0]
    for k, (axis_rap, axis_phi) in enumerate(axes[:3]):
        dr2 = (c.rap[:, None] - axis_rap[None, :]) ** 2 + delta_phi(c.phi[:, None], axis_phi[None, :]) ** 2
        taus[k] = float(np.dot(c.pt, np.sqrt(dr2.min(axis=1)))) / (sum_pt * r0)
    tau21 = taus[1] / taus[0] if taus[0] > 0 else 0.0
    tau32 = taus[2] / taus[1] if taus[1] > 0 else 0.0

    return (
        float(n),
        float(int(np.count_nonzero(c.charged))),
        float(n90),
        charged_fraction,
        photon_fraction,
        neutral_hadron_fraction,
        width,
        math.sqrt(c_ee),
        math.sqrt(c_pp),
        axis_major,
        axis_minor,
        pt_d,
        lead_pt,
        lead_pt / jet_pt,
        taus[0],
        taus[1],
        taus[2],
        tau21,
        tau32,
        c2(weight, c.rap, c.phi),
    )


def c2(z: Float, rap: Float, phi: Float) -> float:
    """Energy-correlation ratio C2 = e3 / e2^2 with beta = 1 (pt fractions ``z``, (y, phi) distances).

    e2 = sum_{i<j} z_i z_j R_ij and e3 = sum_{i<j<k} z_i z_j z_k R_ij R_ik R_jk. With
    N = diag(sqrt z) R diag(sqrt z), trace(N^3) sums every ordered triple, and the zero diagonal of R
    drops repeated indices, so e3 = trace(N^3) / 6: O(n^2) memory instead of n^3 triples.
    """
    if z.size < 2:
        return 0.0
    r = np.sqrt((rap[:, None] - rap[None, :]) ** 2 + delta_phi(phi[:, None], phi[None, :]) ** 2)
    np.fill_diagonal(r, 0.0)
    e2 = 0.5 * float(z @ r @ z)
    if e2 <= 0.0:
        return 0.0
    s = np.sqrt(z)
    n = s[:, None] * r * s[None, :]
    e3 = float(np.einsum("ij,ji->", n @ n, n)) / 6.0
    return e3 / (e2 * e2)

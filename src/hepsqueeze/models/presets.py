"""Named model presets from the seeds and the prior work."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from hepsqueeze.errors import ConfigError, nearest_names
from hepsqueeze.models.autoencoder import AutoencoderConfig

# ae4d-3 in (m, pt, eta, phi) for tables of (E, pt, eta, phi) (hepsqueeze.models.four_vector): the
# mass through a softplus above the normalised value of m = 0, phi clamped to its training range.
_AE4D_3M: Final = AutoencoderConfig(
    nodes=(4, 200, 200, 20, 3, 20, 200, 200, 4),
    activation="leaky_relu",
    representation="mass",
    output_floor=((0, None),),
    output_range=((3, None, None),),
    range_activation="clamp",
)

PRESETS: Final[dict[str, AutoencoderConfig]] = {
    # Seed 002 (GSoC 2021 evaluation task): 4-200-200-20-3-20-200-200-4, LeakyReLU.
    "ae4d-3": AutoencoderConfig(nodes=(4, 200, 200, 20, 3, 20, 200, 200, 4), activation="leaky_relu"),
    "ae4d-3m": _AE4D_3M,
    # ae4d-3m with the mass sampled from its distribution given the latent (models.autoencoder): the
    # latent keeps pt, eta, phi; the decoded jet-mass spectrum follows the input's.
    "ae4d-3ms": replace(_AE4D_3M, sampled_outputs=(0,)),
    # The prior work's AE_3D_200: 4-200-100-50-3-50-100-200-4, Tanh.
    "ae3d-200": AutoencoderConfig(nodes=(4, 200, 100, 50, 3, 50, 100, 200, 4), activation="tanh"),
    # Seed 000's 27D jet models, AE_bn_LeakyReLU: Linear -> LeakyReLU -> BatchNorm1d on every hidden
    # layer, the latent one included.
    "ae27d-14": AutoencoderConfig(
        nodes=(27, 200, 200, 200, 14, 200, 200, 200, 27), batchnorm=True, latent_activation=True
    ),
    "ae27d-20": AutoencoderConfig(
        nodes=(27, 400, 400, 200, 20, 200, 400, 400, 27), batchnorm=True, latent_activation=True
    ),
}

PRESET_DESCRIPTIONS: Final[dict[str, str]] = {
    "ae4d-3": "4-200-200-20-3-20-200-200-4 LeakyReLU (seed 002, GSoC 2021)",
    "ae4d-3m": "ae4d-3 in (m, pt, eta, phi) on E, pt, eta, phi tables: decoded m >= 0, phi in its training range",
    "ae4d-3ms": "ae4d-3m with m drawn from its distribution given the latent (mass spectrum kept, per-jet m not)",
    "ae3d-200": "4-200-100-50-3-50-100-200-4 Tanh (prior work AE_3D_200)",
    "ae27d-14": "27-200-200-200-14-200-200-200-27 LeakyReLU + BatchNorm (seed 000, jets27d variables)",
    "ae27d-20": "27-400-400-200-20-200-400-400-27 LeakyReLU + BatchNorm (seed 000, jets27d variables)",
}


def get_preset(name: str) -> AutoencoderConfig:
    """The preset called ``name`` (raises ConfigError naming the nearest presets)."""
    try:
        return PRESETS[name]
    except KeyError:
        near = nearest_names(name, PRESETS)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)}){hint}") from None

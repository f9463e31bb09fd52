"""Fully connected autoencoders as in the prior work (AE_3D_200, AE_bn_LeakyReLU)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import torch
from torch import nn

from hepsqueeze.errors import ConfigError

ACTIVATIONS: Final = ("leaky_relu", "tanh", "relu", "elu")
# Bounds a model description must respect, so a hostile file cannot make us allocate unbounded memory.
MAX_LAYER_WIDTH: Final = 65536
MAX_LAYERS: Final = 64
MAX_PARAMETERS: Final = 20_000_000


@dataclass(frozen=True)
class AutoencoderConfig:
    """Layer sizes and options of an autoencoder.

    ``nodes`` lists every layer width from input to output, e.g. ``(4, 200, 200, 20, 3, 20, 200, 200, 4)``;
    the narrowest layer is the latent code, produced by a plain Linear (no activation, no BatchNorm unless
    ``latent_activation``). Every other hidden layer is Linear -> activation (-> BatchNorm1d if
    ``batchnorm``), as in the prior work's ``AE_bn_LeakyReLU``; the output layer is a plain Linear.
    """

    nodes: tuple[int, ...]
    activation: str = "leaky_relu"
    batchnorm: bool = False
    latent_activation: bool = False
    negative_slope: float = 0.01

    def __post_init__(self) -> None:
        nodes = tuple(self.nodes)
        object.__setattr__(self, "nodes", nodes)
        if len(nodes) < 3 or len(nodes) > MAX_LAYERS:
            raise ConfigError(f"an autoencoder needs 3 to {MAX_LAYERS} layer sizes, got {len(nodes)}")
        for n in nodes:
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_LAYER_WIDTH:
                raise ConfigError(f"layer sizes must be integers in 1..{MAX_LAYER_WIDTH}, got {nodes}")
        if nodes[0] != nodes[-1]:
            raise ConfigError(f"input and output sizes differ: {nodes[0]} != {nodes[-1]}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        if not 0.0 <= self.negative_slope < 1.0:
            raise ConfigError(f"negative_slope must be in [0, 1), got {self.negative_slope}")
        params = sum(a * b + b for a, b in itertools.pairwise(nodes))
        if params > MAX_PARAMETERS:
            raise ConfigError(f"model has {params} parameters, more than the limit {MAX_PARAMETERS}")

    @property
    def n_features(self) -> int:
        return self.nodes[0]

    @property
    def latent_index(self) -> int:
        """Index in ``nodes`` of the latent layer (the first narrowest one)."""
        inner = self.nodes[1:-1]
        return 1 + inner.index(min(inner))

    @property
    def latent_dim(self) -> int:
        return self.nodes[self.latent_index]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoencoderConfig:
        known = {"nodes", "activation", "batchnorm", "latent_activation", "negative_slope"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown autoencoder settings {sorted(unknown)}")
        try:
            nodes = data["nodes"]
            if not isinstance(nodes, list | tuple):
                raise ConfigError(f"nodes must be a list of integers, got {nodes!r}")
            return cls(**{**data, "nodes": tuple(nodes)})
        except TypeError as exc:
            raise ConfigError(f"invalid autoencoder settings: {exc}") from None


def _activation(config: AutoencoderConfig) -> nn.Module:
    if config.activation == "leaky_relu":
        return nn.LeakyReLU(config.negative_slope)
    if config.activation == "tanh":
        return nn.Tanh()
    if config.activation == "relu":
        return nn.ReLU()
    return nn.ELU()


def _stack(
    config: AutoencoderConfig, sizes: Sequence[int], last_plain: bool, last_is_latent: bool
) -> nn.Sequential:
    layers: list[nn.Module] = []
    pairs = list(itertools.pairwise(sizes))
    for i, (a, b) in enumerate(pairs):
        layers.append(nn.Linear(a, b))
        is_last = i == len(pairs) - 1
        if is_last and (last_plain or (last_is_latent and not config.latent_activation)):
            continue
        layers.append(_activation(config))
        if config.batchnorm:
            layers.append(nn.BatchNorm1d(b))
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Encoder ``(N, F) -> (N, latent)`` and decoder ``(N, latent) -> (N, F)``, both in normalised space."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        k = config.latent_index
        self.encoder = _stack(config, config.nodes[: k + 1], last_plain=False, last_is_latent=True)
        self.decoder = _stack(config, config.nodes[k:], last_plain=True, last_is_latent=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # type: ignore[no-any-return]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

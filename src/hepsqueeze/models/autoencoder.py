"""Fully connected autoencoders as in the prior work (AE_3D_200, AE_bn_LeakyReLU).

Output constraints (optional, stored in the config and so in the model file): the decoder's last
Linear can be followed by

- a *floor* on output ``j``: ``y_j = floor + softplus(raw_j - floor)``, so ``y_j >= floor`` whatever the
  latent code. With ``floor`` the normalised value of physical 0 (see :meth:`AutoencoderConfig.resolve`),
  the decoded physical value is never negative (the mass of ``zoo:ae4d-3m``);
- a *range* on output ``j``: ``y_j`` kept in ``[low, high]``, the normalised training range, by a clamp
  (``range_activation="clamp"``) or a scaled sigmoid (``"sigmoid"``), so a decoded angle never leaves
  the training range and never wraps to the other side.

Presets give a constraint without numbers (``None``): :meth:`AutoencoderConfig.resolve` computes them
from the fitted normaliser and the normalised training split before the network is built; a network
cannot be built from an unresolved config. ``representation`` is carried for
:class:`~hepsqueeze.models.model.CompressionModel` (see :mod:`hepsqueeze.models.four_vector`); the
network itself does not use it. Configs without these settings describe, hash and save as before.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import torch
from torch import nn

from hepsqueeze.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hepsqueeze.preprocessing.normalisation import Normaliser

ACTIVATIONS: Final = ("leaky_relu", "tanh", "relu", "elu")
#: How a range constraint keeps an output within ``[low, high]``.
RANGE_ACTIVATIONS: Final = ("clamp", "sigmoid")
#: How a model's variables are presented to the network (:mod:`hepsqueeze.models.four_vector`).
REPRESENTATIONS: Final = ("identity", "mass")
#: Settings added after the first model files: written only when not at their default, so that
#: earlier configs describe (and hash) exactly as before.
_OPTIONAL: Final = {
    "representation": "identity",
    "output_floor": (),
    "output_range": (),
    "range_activation": "clamp",
}
_KNOWN: Final = frozenset(
    {"nodes", "activation", "batchnorm", "latent_activation", "negative_slope", *_OPTIONAL}
)
#: Bound on the magnitude of a constraint's numbers (normalised units), against hostile files.
MAX_CONSTRAINT: Final = 1e6
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
    ``batchnorm``), as in the prior work's ``AE_bn_LeakyReLU``; the output layer is a plain Linear,
    followed by the output constraints if any:

    - ``output_floor``: ``(index, floor)`` pairs, ``y = floor + softplus(raw - floor)``;
    - ``output_range``: ``(index, low, high)`` triples, ``y`` kept in ``[low, high]`` by
      ``range_activation`` (``clamp`` or ``sigmoid``).

    Numbers are in normalised units; ``None`` (presets) means "from the training data", filled in by
    :meth:`resolve`. ``representation`` (``identity`` or ``mass``) tells the model how its variables
    reach the network (see :mod:`hepsqueeze.models.four_vector`).
    """

    nodes: tuple[int, ...]
    activation: str = "leaky_relu"
    batchnorm: bool = False
    latent_activation: bool = False
    negative_slope: float = 0.01
    representation: str = "identity"
    output_floor: tuple[tuple[int, float | None], ...] = ()
    output_range: tuple[tuple[int, float | None, float | None], ...] = ()
    range_activation: str = "clamp"

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
        self._check_constraints()

    def _check_constraints(self) -> None:
        nodes = self.nodes
        if not isinstance(self.representation, str) or self.representation not in REPRESENTATIONS:
            raise ConfigError(
                f"unknown representation {self.representation!r}; choose one of {', '.join(REPRESENTATIONS)}"
            )
        if not isinstance(self.range_activation, str) or self.range_activation not in RANGE_ACTIVATIONS:
            raise ConfigError(
                f"unknown range_activation {self.range_activation!r}; "
                f"choose one of {', '.join(RANGE_ACTIVATIONS)}"
            )
        floors = _entries(self.output_floor, 2, "output_floor", nodes[-1])
        ranges = _entries(self.output_range, 3, "output_range", nodes[-1])
        for _, low, high in ranges:
            if low is not None and high is not None and not low < high:
                raise ConfigError(f"output_range needs low < high, got [{low}, {high}]")
            if (low is None) != (high is None):
                raise ConfigError("output_range needs both bounds or neither (to be resolved)")
        indices = [e[0] for e in floors] + [e[0] for e in ranges]
        if len(set(indices)) != len(indices):
            raise ConfigError(f"an output may have one constraint only, got outputs {sorted(indices)}")
        object.__setattr__(self, "output_floor", floors)
        object.__setattr__(self, "output_range", ranges)

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

    @property
    def resolved(self) -> bool:
        """Whether every output constraint has its numbers (a network can be built)."""
        return all(v is not None for e in (*self.output_floor, *self.output_range) for v in e[1:])

    def resolve(self, normaliser: Normaliser, y_train: npt.NDArray[np.floating[Any]]) -> AutoencoderConfig:
        """This config with its constraints' numbers: a floor's is the normalised value of physical 0
        under ``normaliser``, a range's the min and max of the normalised training split ``y_train``
        (rows, outputs). Numbers already given are kept."""
        import numpy as np

        if (
            len(normaliser.transforms) != self.nodes[-1]
            or y_train.ndim != 2
            or y_train.shape[1] != self.nodes[-1]
        ):
            raise ConfigError(
                f"cannot resolve the output constraints of {self.nodes[-1]} outputs on this data"
            )
        floors = []
        for j, given in self.output_floor:
            floors.append((j, _normalised_zero(normaliser, j) if given is None else given))
        ranges = []
        for j, given_low, given_high in self.output_range:
            low, high = given_low, given_high
            if low is None or high is None:
                col = np.asarray(y_train[:, j], dtype=np.float64)
                col = col[np.isfinite(col)]
                if col.size == 0 or not col.min() < col.max():
                    raise ConfigError(
                        f"output {j} ({normaliser.variables[j]}) has no range to keep: its training values "
                        "are all equal or not finite"
                    )
                low, high = float(col.min()), float(col.max())
            ranges.append((j, low, high))
        return replace(self, output_floor=tuple(floors), output_range=tuple(ranges))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        for key, default in _OPTIONAL.items():
            if d[key] == default:
                del d[key]  # configs without the newer settings describe (and hash) as before
            elif isinstance(d[key], tuple):
                d[key] = [list(e) for e in d[key]]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoencoderConfig:
        unknown = set(data) - _KNOWN
        if unknown:
            raise ConfigError(f"unknown autoencoder settings {sorted(unknown)}")
        try:
            nodes = data["nodes"]
            if not isinstance(nodes, list | tuple):
                raise ConfigError(f"nodes must be a list of integers, got {nodes!r}")
            values = {**data, "nodes": tuple(nodes)}
            for key in ("output_floor", "output_range"):
                if key in values:
                    entries = values[key]
                    if not isinstance(entries, list | tuple) or not all(
                        isinstance(e, list | tuple) for e in entries
                    ):
                        raise ConfigError(f"{key} must be a list of lists, got {entries!r}")
                    values[key] = tuple(tuple(e) for e in entries)
            return cls(**values)
        except (TypeError, KeyError) as exc:
            raise ConfigError(f"invalid autoencoder settings: {exc}") from None


def _entries(entries: object, width: int, key: str, outputs: int) -> tuple[Any, ...]:
    """``entries`` checked: a sequence of ``width``-tuples ``(output index, number or None, ...)``."""
    if not isinstance(entries, tuple | list):
        raise ConfigError(f"{key} must be a sequence of {width}-tuples, got {entries!r}")
    if len(entries) > outputs:
        raise ConfigError(f"{key} has {len(entries)} entries for {outputs} outputs")
    out = []
    for e in entries:
        if not isinstance(e, tuple | list) or len(e) != width:
            raise ConfigError(
                f"{key} entries are (output index, {'floor' if width == 2 else 'low, high'}), got {e!r}"
            )
        j, *numbers = e
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < outputs:
            raise ConfigError(f"{key}: output index must be an integer in 0..{outputs - 1}, got {j!r}")
        checked: list[float | None] = []
        for v in numbers:
            if v is None:
                checked.append(None)
                continue
            if (
                not isinstance(v, int | float)
                or isinstance(v, bool)
                or not math.isfinite(v)
                or abs(v) > MAX_CONSTRAINT
            ):
                raise ConfigError(
                    f"{key}: bounds must be finite numbers of magnitude <= {MAX_CONSTRAINT:g}, got {v!r}"
                )
            checked.append(float(v))
        out.append((j, *checked))
    return tuple(out)


def _normalised_zero(normaliser: Normaliser, j: int) -> float:
    """The normalised value of physical 0 for output ``j`` (ConfigError where 0 has none)."""
    t = normaliser.transforms[j]
    name = normaliser.variables[j]
    if t.scale <= 0:
        raise ConfigError(f"cannot floor {name!r}: its normalisation has a negative scale")
    if t.log and not t.log_offset > 0:
        raise ConfigError(
            f"cannot floor {name!r} at 0: its normalisation takes log10(x + {t.log_offset:g}), which 0 is "
            "outside of (its decoded values are positive already)"
        )
    g = math.log10(t.log_offset) if t.log else 0.0
    return (g - t.shift) / t.scale


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


class OutputConstraints(nn.Module):
    """The decoder's output constraints (no parameters: the numbers are constants of the module)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        if not config.resolved:
            raise ConfigError(
                "the output constraints have no numbers yet: resolve the config against the fitted "
                "normaliser (AutoencoderConfig.resolve) before building the network"
            )
        self.floors = [(j, float(f)) for j, f in config.output_floor if f is not None]
        self.ranges = [
            (j, float(lo), float(hi))
            for j, lo, hi in config.output_range
            if lo is not None and hi is not None
        ]
        self.mode = config.range_activation

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        columns = list(raw.unbind(dim=1))
        for j, floor in self.floors:
            columns[j] = floor + nn.functional.softplus(columns[j] - floor)
        for j, low, high in self.ranges:
            if self.mode == "clamp":
                columns[j] = torch.clamp(columns[j], low, high)
            else:
                columns[j] = low + (high - low) * torch.sigmoid(columns[j])
        return torch.stack(columns, dim=1)

    def extra_repr(self) -> str:
        return f"floors={self.floors}, ranges={self.ranges}, mode={self.mode!r}"


class Autoencoder(nn.Module):
    """Encoder ``(N, F) -> (N, latent)`` and decoder ``(N, latent) -> (N, F)``, both in normalised space.

    The output constraints (if any) are the decoder's last module, without weights: state dicts and
    model files keep their layout, and exporting ``decoder`` exports them too.
    """

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        k = config.latent_index
        self.encoder = _stack(config, config.nodes[: k + 1], last_plain=False, last_is_latent=True)
        self.decoder = _stack(config, config.nodes[k:], last_plain=True, last_is_latent=False)
        if config.output_floor or config.output_range:
            self.decoder.append(OutputConstraints(config))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # type: ignore[no-any-return]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

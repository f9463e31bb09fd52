"""Fully connected autoencoders as in the prior work (AE_3D_200, AE_bn_LeakyReLU).

Output constraints (optional, stored in the config and so in the model file): the decoder's last
Linear can be followed by

- a *floor* on output ``j``: ``y_j = floor + softplus(raw_j - floor)``, so ``y_j >= floor`` whatever the
  latent code. With ``floor`` the normalised value of physical 0 (see :meth:`AutoencoderConfig.resolve`),
  the decoded physical value is never negative (the mass of ``zoo:ae4d-3m``);
- a *range* on output ``j``: ``y_j`` kept in ``[low, high]``, the normalised training range, by a clamp
  (``range_activation="clamp"``) or a scaled sigmoid (``"sigmoid"``), so a decoded angle never leaves
  the training range and never wraps to the other side.

*Sampled* outputs (``sampled_outputs``): a latent of fewer values than the inputs cannot carry every
input back, and a smooth decoder then gives each lost direction a narrowed, biased value (ae4d-3's
jet mass). A sampled output is instead a draw from its distribution given the latent code: a small
network (the *sampler*, :class:`SampledDecoder`) maps the latent and a level ``u`` in (0, 1) to the
``u``-quantile of the output given the latent, trained with the pinball (quantile) loss
(:func:`pinball`). ``u`` is a hash of the latent's float32 bits (:func:`latent_levels`), so decoding
stays a deterministic function of the stored latent, to the bit, with no extra bytes, and the draws
of different jets are independent. The sampler sees the latent detached: the encoder is trained on
the other outputs only, so a latent of as many values as those outputs keeps them as well as it
can. The distribution of the decoded values follows the input's (the mass spectrum, in bins of pt
and eta); a single jet's value is a draw, not its own.

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
    "sampled_outputs": (),
    "sampler_width": 64,
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
#: Mixing constant of :func:`latent_levels` (Mueller's 32-bit hash). Below 2**31, so products with a
#: 32-bit value stay below 2**63 in int64 arithmetic and never overflow on any machine.
_HASH_MULTIPLIER: Final = 0x045D9F3B
_HASH_SEED: Final = 0x2545F491
_MASK32: Final = 0xFFFFFFFF
#: Bits of a level: ``u = (k + 0.5) / 2**LEVEL_BITS``, exact in float32 (whose spacing below 1 is
#: 2**-24: with 24 bits the top level would round to 1.0, where the normal score is infinite) and
#: never 0 or 1.
LEVEL_BITS: Final = 23


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
    sampled_outputs: tuple[int, ...] = ()
    sampler_width: int = 64

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
        params += self._check_sampled()
        if params > MAX_PARAMETERS:
            raise ConfigError(f"model has {params} parameters, more than the limit {MAX_PARAMETERS}")
        self._check_constraints()

    def _check_sampled(self) -> int:
        """Check ``sampled_outputs`` and ``sampler_width``; the sampler's parameter count."""
        sampled = self.sampled_outputs
        if not isinstance(sampled, tuple | list) or not all(
            isinstance(j, int) and not isinstance(j, bool) and 0 <= j < self.nodes[-1] for j in sampled
        ):
            raise ConfigError(
                f"sampled_outputs must be output indices in 0..{self.nodes[-1] - 1}, got {sampled!r}"
            )
        if len(set(sampled)) != len(sampled) or len(sampled) >= self.nodes[-1]:
            raise ConfigError(
                f"sampled_outputs must be distinct and leave an output decoded, got {sampled!r}"
            )
        object.__setattr__(self, "sampled_outputs", tuple(sampled))
        width = self.sampler_width
        if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= MAX_LAYER_WIDTH:
            raise ConfigError(f"sampler_width must be an integer in 1..{MAX_LAYER_WIDTH}, got {width!r}")
        if not sampled:
            return 0
        sizes = _sampler_sizes(self)
        return sum(a * b + b for a, b in itertools.pairwise(sizes))

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
            elif key == "sampled_outputs":
                d[key] = list(d[key])
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


def _sampler_sizes(config: AutoencoderConfig) -> tuple[int, ...]:
    """Layer sizes of the sampler: latent and the level's two features in, one value per sampled output."""
    w = config.sampler_width
    return (config.latent_dim + 2, w, w, len(config.sampled_outputs))


def latent_levels(z: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` levels in (0, 1) per row of the float32 latent codes ``z`` ``(rows, latent)``: a hash of
    the codes' bits, so equal codes give equal levels on every machine and device, and codes that
    differ in any bit give unrelated ones (float32 ``(rows, count)``)."""
    codes = z.detach().to(torch.float32).contiguous()
    bits = codes.view(torch.int32).to(torch.int64) & _MASK32
    h = torch.full((codes.shape[0],), _HASH_SEED, dtype=torch.int64, device=codes.device)
    for j in range(codes.shape[1]):
        h = _mix(h ^ bits[:, j])
    levels = []
    for k in range(count):
        h = _mix(h ^ (k + 1))
        levels.append(hash_level(h))
    return torch.stack(levels, dim=1)


def hash_level(h: torch.Tensor) -> torch.Tensor:
    """The level in (0, 1) of 32-bit hashes ``h`` (int64): its top :data:`LEVEL_BITS` bits, centred,
    as float32 (exactly)."""
    return (((h >> (32 - LEVEL_BITS)).to(torch.float64) + 0.5) / float(1 << LEVEL_BITS)).to(torch.float32)


def _mix(h: torch.Tensor) -> torch.Tensor:
    """Mueller's 32-bit integer hash on int64 holding values below 2**32 (no overflow: see the constant)."""
    h = h ^ (h >> 16)
    h = (h * _HASH_MULTIPLIER) & _MASK32
    h = h ^ (h >> 16)
    h = (h * _HASH_MULTIPLIER) & _MASK32
    return h ^ (h >> 16)


def pinball(quantile: torch.Tensor, target: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """The pinball (quantile) loss, elementwise: minimised in expectation when ``quantile`` is the
    ``level``-quantile of ``target``'s distribution."""
    diff = target - quantile
    return torch.maximum(level * diff, (level - 1.0) * diff)


class SampledDecoder(nn.Module):
    """The decoder of a config with ``sampled_outputs``: the plain decoder (``body``) for every output,
    the sampler's quantiles put in place of the sampled ones, then the output constraints.

    ``levels`` holds the levels of the last call, for the training loss (:func:`pinball`)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        k = config.latent_index
        self.body = _stack(config, config.nodes[k:], last_plain=True, last_is_latent=False)
        sampler_config = replace(config, batchnorm=False)
        self.sampler = _stack(sampler_config, _sampler_sizes(config), last_plain=True, last_is_latent=False)
        self.constraints = (
            OutputConstraints(config) if config.output_floor or config.output_range else nn.Identity()
        )
        self.outputs = config.sampled_outputs
        self.levels: torch.Tensor | None = None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        levels = latent_levels(z, 1)
        # the level enters as itself and as its normal score, which keeps the tails' quantiles smooth
        score = math.sqrt(2.0) * torch.erfinv(2.0 * levels - 1.0)
        # detached: the sampler learns the distribution given the code, and the encoder, trained on the
        # other outputs alone, spends the whole latent on them (as many values as decoded outputs)
        quantiles = self.sampler(torch.cat([z.detach(), levels, score], dim=1))
        columns = list(self.body(z).unbind(dim=1))
        for i, j in enumerate(self.outputs):
            columns[j] = quantiles[:, i]
        self.levels = levels.expand(-1, len(self.outputs))
        return self.constraints(torch.stack(columns, dim=1))  # type: ignore[no-any-return]


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
        self.decoder: nn.Module
        if config.sampled_outputs:
            self.decoder = SampledDecoder(config)
            return
        self.decoder = _stack(config, config.nodes[k:], last_plain=True, last_is_latent=False)
        if config.output_floor or config.output_range:
            self.decoder.append(OutputConstraints(config))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # type: ignore[no-any-return]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

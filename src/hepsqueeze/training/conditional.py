"""Training a learned conditional model (:mod:`hepsqueeze.models.conditional`) for the error-bounded codec.

Every target's network is trained at once (one batched network with a mask per target, as MADE
does) to minimise the code length: the cross-entropy, in bits, of the quantised values under a
discretised logistic of the predicted location and scale, at the bounds the data will be coded
with. Training is quantisation-aware: the forward pass rounds weights, biases and hidden values as
the integer network will (straight-through gradients), so the integer network that is exported
predicts what was trained. Each row's context columns are dropped (value and presence flag zero)
with a small probability, so that the model still codes files that lack some of its columns.
After training, the residual shape of every target is fitted on held-out rows through the
exported integer network, exactly as the codec will see them.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.models.conditional.intnet import HIDDEN_MAX, quantise_layers
from hepsqueeze.models.conditional.model import (
    INPUT_SCALE,
    ColumnSpec,
    ConditionalModel,
    Domain,
    class_offset,
    scale_classes,
)
from hepsqueeze.models.conditional.shape import class_table, fit_cdf, sigma_bins

log = logging.getLogger(__name__)

#: The real value of the largest hidden activation (a ReLU clipped at ACTIVATION_MAX).
ACTIVATION_MAX: Final = 6.0
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ColumnData:
    """One column as the codec sees it: ``decoded`` (what a decoder has before the next column:
    ``symbol * step`` in the column's domain, or an integer column's values), ``exact`` (the true
    domain value of a target, NaN where the codec does not code it from the model; None: a
    context only) and ``step`` (a target's quantisation step in its domain)."""

    name: str
    domain: Domain
    decoded: F64
    exact: F64 | None = None
    step: float | None = None
    #: the symbols the analytic coding would code instead (of the coded rows): the baseline a
    #: target must beat by ``min_gain`` bits to keep its network
    analytic: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        if self.exact is not None and (self.step is None or not self.step > 0):
            raise InputError(f"column {self.name!r}: a target needs its quantisation step")
        if self.exact is not None and self.exact.shape != self.decoded.shape:
            raise InputError(f"column {self.name!r}: exact and decoded values differ in length")

    @property
    def target(self) -> bool:
        """Whether the model predicts the column (float columns; integer ones given their ``exact``)."""
        return self.exact is not None


@dataclass(frozen=True)
class ConditionalTrainingConfig:
    """Hidden units and layers of each target's network, epochs, batch rows, learning rate, the
    fraction of rows held out (shapes are fitted and bits measured on them), the probability of
    dropping a context column of a row, the seed and the torch threads (None: as torch has it)."""

    hidden: int = 64
    layers: int = 2
    epochs: int = 24
    batch: int = 1024
    learning_rate: float = 3e-3
    validation: float = 0.2
    context_dropout: float = 0.03
    seed: int = 1
    threads: int | None = None
    #: bits per value a target's network must save on held-out rows against the analytic coding
    #: (its symbols' entropy, or its relation's residuals'), else the column is a context only
    min_gain: float = 0.25
    name: str = "conditional"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.hidden <= 1024 or not 1 <= self.layers <= 4:
            raise ConfigError(
                f"hidden must lie in 1..1024 and layers in 1..4, got {self.hidden}, {self.layers}"
            )
        if self.epochs < 1 or self.batch < 16 or not 0 < self.learning_rate < 1:
            raise ConfigError("epochs >= 1, batch >= 16 and 0 < learning_rate < 1 are needed")
        if not 0 < self.validation < 1 or not 0 <= self.context_dropout < 1:
            raise ConfigError("validation must lie in (0, 1) and context_dropout in [0, 1)")


@dataclass(frozen=True)
class TrainingResult:
    """The model and its held-out bits per value of each target (with and without the model's
    prediction: ``bits`` and ``baseline_bits``, the latter the entropy of the symbols alone)."""

    model: ConditionalModel
    bits: dict[str, float]
    baseline_bits: dict[str, float]
    history: list[float]


def _stats(col: ColumnData) -> tuple[float, float]:
    v = col.exact if col.exact is not None else col.decoded
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0, 1.0
    std = float(v.std())
    return float(v.mean()), std if std > 0 and math.isfinite(std) else 1.0


@dataclass(frozen=True)
class _Problem:
    """The arrays of a training run: every column's fixed-point input, the targets' exact values in
    std units, which rows each target codes, the targets' std / step, the split."""

    specs: list[ColumnSpec]
    targets: list[int]
    feats: npt.NDArray[np.int64]
    exact: F64
    coded: npt.NDArray[np.bool_]
    z_exact: F64
    step: F64
    ratio: F64
    train: npt.NDArray[np.intp]
    val: npt.NDArray[np.intp]


def _prepare(data: Sequence[ColumnData], config: ConditionalTrainingConfig) -> _Problem:
    if not data or not any(c.target for c in data):
        raise InputError("a conditional model needs at least one target column (a float column with a bound)")
    rows = data[0].decoded.shape[0]
    if rows < 64 or any(c.decoded.shape != (rows,) for c in data):
        raise InputError(f"training needs at least 64 rows of equal length per column, got {rows}")
    specs: list[ColumnSpec] = []
    for c in data:
        # the first column has nothing to be predicted from: a context only
        specs.append(ColumnSpec(c.name, c.domain, *_stats(c), c.target and bool(specs)))
    feats = np.stack([s.feature(c.decoded) for s, c in zip(specs, data, strict=True)], axis=1)
    targets = [i for i, c in enumerate(specs) if c.target]
    if not targets:
        raise InputError(
            "a conditional model needs a target column after the first (which is a context only)"
        )
    order = np.random.default_rng(config.seed).permutation(rows)
    n_val = max(1, int(rows * config.validation))
    # targets in std units (the network's location) and bins (the loss): std / step bins per std
    exact = np.stack([np.asarray(data[i].exact) for i in targets], axis=1)
    coded = np.isfinite(exact)
    means = np.array([specs[i].mean for i in targets])
    stds = np.array([specs[i].std for i in targets])
    steps = np.array([float(data[i].step or 1.0) for i in targets])
    z_exact = np.where(coded, (np.nan_to_num(exact) - means) / stds, 0.0)
    return _Problem(
        specs, targets, feats, exact, coded, z_exact, steps, stds / steps, order[n_val:], order[:n_val]
    )


def train_conditional(data: Sequence[ColumnData], config: ConditionalTrainingConfig) -> TrainingResult:
    """Train a model whose columns are ``data`` in order (integer columns: contexts; the others:
    targets, each predicted from every column before it)."""
    import torch

    problem = _prepare(data, config)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    net, history = _fit(problem, config)
    metadata = {
        **config.metadata,
        "rows": int(problem.feats.shape[0]),
        "validation_rows": int(problem.val.size),
        "hidden": config.hidden,
        "layers": config.layers,
        "epochs": config.epochs,
        "seed": config.seed,
    }
    model = _integer_model(problem, net, config.name, metadata)
    bits, baseline, shapes = _fit_shapes(problem, data, model)
    # a target whose network does not pay is a context only
    kept = {n for n in bits if bits[n] <= baseline[n] - config.min_gain}
    specs = [dataclasses.replace(s, target=s.target and s.name in kept) for s in problem.specs]
    model = ConditionalModel(
        config.name,
        tuple(specs),
        {n: v for n, v in model.nets.items() if n in kept},
        {n: v for n, v in model.output_scale.items() if n in kept},
        {n: v for n, v in shapes.items() if n in kept},
        {
            **metadata,
            "validation_bits": {k: round(v, 4) for k, v in bits.items()},
            "analytic_bits": {k: round(v, 4) for k, v in baseline.items()},
        },
    )
    return TrainingResult(model, bits, baseline, history)


def _fit(problem: _Problem, config: ConditionalTrainingConfig) -> tuple[_BatchedNet, list[float]]:
    """The batched network trained on the problem's training rows, and the bits per row of each epoch."""
    import torch

    n = len(problem.specs)
    mask = np.zeros((len(problem.targets), 2 * n), dtype=np.float32)
    for a, i in enumerate(problem.targets):
        mask[a, : 2 * i] = 1.0
    net = _BatchedNet(len(problem.targets), 2 * n, config.hidden, config.layers, torch.from_numpy(mask))
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    train = problem.train
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=config.learning_rate,
        total_steps=config.epochs * max(1, math.ceil(train.size / config.batch)),
    )
    x_all = torch.from_numpy(_inputs(problem.feats).astype(np.float32) / INPUT_SCALE)
    z_all = torch.from_numpy(problem.z_exact.astype(np.float32))
    w_all = torch.from_numpy(problem.coded.astype(np.float32))
    ratio = torch.from_numpy(problem.ratio.astype(np.float32))
    rng = np.random.default_rng(config.seed + 1)
    history: list[float] = []
    for epoch in range(config.epochs):
        perm = torch.from_numpy(rng.permutation(train))
        total, count = 0.0, 0.0
        for start in range(0, perm.numel(), config.batch):
            idx = perm[start : start + config.batch]
            x = x_all[idx]
            if config.context_dropout:
                keep = (torch.rand(x.shape[0], n) >= config.context_dropout).float()
                x = x * keep.repeat_interleave(2, dim=1)
            bits = _bits(net(x), z_all[idx], ratio) * w_all[idx]
            loss = bits.sum() / idx.numel()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(bits.detach().sum())
            count += float(idx.numel())
        history.append(total / max(count, 1.0))
        log.info("epoch %d: %.3f bits per row", epoch + 1, history[-1])
    return net, history


def _integer_model(
    problem: _Problem, net: _BatchedNet, name: str, metadata: dict[str, Any]
) -> ConditionalModel:
    """The trained network as a model of integer networks (residual shapes still the prior's)."""
    weights, biases = net.export()
    nets, scales, shapes = {}, {}, {}
    for a, i in enumerate(problem.targets):
        target = problem.specs[i].name
        ws = [w[a] for w in weights]
        ws[0] = ws[0][:, : 2 * i]
        nets[target], scales[target] = quantise_layers(
            ws, [b[a] for b in biases], INPUT_SCALE, HIDDEN_MAX / ACTIVATION_MAX
        )
        shapes[target] = fit_cdf(np.zeros(0))
    return ConditionalModel(name, tuple(problem.specs), nets, scales, shapes, metadata)


def _fit_shapes(
    problem: _Problem, data: Sequence[ColumnData], model: ConditionalModel
) -> tuple[dict[str, float], dict[str, float], dict[str, F64]]:
    """Every target's residual shape fitted on the held-out rows through the integer networks, and
    its bits per value there, with the model and with the analytic coding."""
    val = problem.val
    held = model.inputs(int(val.size))
    for c in data:
        held.set(c.name, c.decoded[val])
    bits: dict[str, float] = {}
    baseline: dict[str, float] = {}
    shapes: dict[str, F64] = {}
    for a, i in enumerate(problem.targets):
        spec, step = problem.specs[i], float(problem.step[a])
        pred = model.predict(spec.name, held)
        k = scale_classes(pred, class_offset(spec.std, step))
        mu = np.rint(pred.location / step)
        sig = np.array([sigma_bins(int(c)) for c in range(int(k.max()) + 1)])[k]
        ok = problem.coded[val, a]
        x = problem.exact[val, a] / step
        shapes[spec.name] = fit_cdf(((x - mu) / sig)[ok])
        q = np.rint(x)
        bits[spec.name] = _table_bits(shapes[spec.name], q[ok] - mu[ok], k[ok])
        ref = data[i].analytic
        baseline[spec.name] = _entropy(q[ok] if ref is None else ref.astype(np.float64))
    return bits, baseline, shapes


def evaluate_bits(model: ConditionalModel, data: Sequence[ColumnData]) -> dict[str, float]:
    """Bits per value of every column of ``data`` (as :func:`~hepsqueeze.codecs.bounded.training.model_columns`
    gives them, other rows than the model was trained on): a target's under the model's tables,
    the others' the entropy of what the analytic coding codes (0 for columns without their symbols)."""
    rows = data[0].decoded.shape[0] if data else 0
    inputs = model.inputs(rows)
    for c in data:
        if c.name in model.names:
            inputs.set(c.name, c.decoded)
    out: dict[str, float] = {}
    for c in data:
        ref = c.analytic
        if c.exact is None:
            continue
        ok = np.isfinite(c.exact)
        step = float(c.step or 1.0)
        q = np.rint(c.exact / step)
        if c.name in model.names and model.spec(c.name).target:
            spec = model.spec(c.name)
            pred = model.predict(c.name, inputs)
            k = scale_classes(pred, class_offset(spec.std, step))
            mu = np.rint(pred.location / step)
            out[c.name] = _table_bits(model.shapes[c.name], (q - mu)[ok], k[ok])
        else:
            out[c.name] = _entropy(q[ok] if ref is None else ref.astype(np.float64))
    return out


def _inputs(feats: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Value and presence flag of every column, interleaved."""
    rows, n = feats.shape
    out = np.empty((rows, 2 * n), dtype=np.int64)
    out[:, 0::2] = feats
    out[:, 1::2] = INPUT_SCALE
    return out


def _table_bits(cdf: F64, r: F64, k: npt.NDArray[np.int64]) -> float:
    """Mean bits per value of residuals ``r`` in scale classes ``k`` under the tables of ``cdf``."""
    if not r.size:
        return 0.0
    total = 0.0
    for c in np.unique(k):
        sel = k == c
        p, radius, b = class_table(cdf, int(c))
        p = p / p.sum()
        h = np.floor_divide(r[sel], 1 << b).astype(np.int64)
        inside = np.abs(h) <= radius
        idx = np.where(inside, h + radius, p.size - 1)
        total += float(-np.log2(p[idx]).sum()) + b * int(sel.sum()) + 64.0 * int((~inside).sum())
    return total / r.size


def _entropy(q: F64) -> float:
    if not q.size:
        return 0.0
    _, c = np.unique(q, return_counts=True)
    p = c / q.size
    return float(-(p * np.log2(p)).sum())


class _Round:
    """Rounding with a straight-through gradient."""

    @staticmethod
    def apply(x: Any) -> Any:
        return x + (x.round() - x).detach()


def _bits(out: Any, z: Any, ratio: Any) -> Any:
    """Bits of each target's quantised value under a discretised logistic: location ``out[..., 0]``
    (std units), log2 scale ``out[..., 1]`` (std units); ``ratio`` = std / step."""
    import torch

    r = (z - out[..., 0]) * ratio  # bins
    log_s = out[..., 1].clamp(-30, 30) * math.log(2) + torch.log(ratio)
    inv = torch.exp(-log_s)
    upper = torch.sigmoid((r + 0.5) * inv)
    lower = torch.sigmoid((r - 0.5) * inv)
    return -torch.log2((upper - lower).clamp_min(1e-12))


class _BatchedNet:
    """Every target's network as one batched network (weights ``(targets, out, in)``; the first
    layer masked to the columns before each target), quantisation-aware."""

    def __init__(self, targets: int, inputs: int, hidden: int, layers: int, mask: Any) -> None:
        import torch

        sizes = [inputs] + [hidden] * layers + [2]
        self.mask = mask
        self.weights = []
        self.biases = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            w = torch.randn(targets, fan_out, fan_in) * math.sqrt(2.0 / fan_in)
            if fan_in == inputs:
                w = w * mask[:, None, :] * math.sqrt(inputs / max(1.0, float(mask.sum(1).mean())))
            self.weights.append(w.requires_grad_())
            self.biases.append(torch.zeros(targets, fan_out, requires_grad=True))
        with torch.no_grad():  # the log-scale output starts near 0 (one std)
            self.weights[-1][:, 1, :] *= 0.1

    def parameters(self) -> list[Any]:
        return self.weights + self.biases

    def _quantised(self, i: int) -> tuple[Any, Any]:
        w = self.weights[i] * self.mask[:, None, :] if i == 0 else self.weights[i]
        top = w.detach().abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-8)
        s_w = 127.0 / top
        s_in = float(INPUT_SCALE) if i == 0 else HIDDEN_MAX / ACTIVATION_MAX
        wq = _Round.apply(w * s_w) / s_w
        bq = _Round.apply(self.biases[i] * s_w[:, :, 0] * s_in) / (s_w[:, :, 0] * s_in)
        return wq, bq

    def __call__(self, x: Any) -> Any:
        import torch

        scale = HIDDEN_MAX / ACTIVATION_MAX
        h = torch.einsum("bd,tod->bto", x, self._quantised(0)[0]) + self._quantised(0)[1]
        for i in range(1, len(self.weights)):
            h = _Round.apply(h.clamp(0.0, ACTIVATION_MAX) * scale) / scale
            wq, bq = self._quantised(i)
            h = torch.einsum("bti,toi->bto", h, wq) + bq
        return h

    def export(self) -> tuple[list[F64], list[F64]]:
        ws = []
        for i, w in enumerate(self.weights):
            m = w * self.mask[:, None, :] if i == 0 else w
            ws.append(m.detach().double().numpy())
        return ws, [b.detach().double().numpy() for b in self.biases]


__all__ = ["ColumnData", "ConditionalTrainingConfig", "TrainingResult", "evaluate_bits", "train_conditional"]

"""Training loop: seeded split, MSE loss in normalised space, AdamW + one-cycle, early stopping."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch

from hepsqueeze.errors import ConfigError, InputError
from hepsqueeze.metrics.residuals import mse, residual_summary
from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig, SampledDecoder, pinball
from hepsqueeze.models.model import CompressionModel
from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.distributed import World, join_world, run_local, world_from_environment
from hepsqueeze.training.split import Split, split_rows
from hepsqueeze.version import __version__

log = logging.getLogger(__name__)

#: Fraction of the steps during which the one-cycle schedule raises the learning rate.
PCT_START: Final = 0.3
#: ``loss(reconstruction, target)``: a scalar tensor (Any: torch types Tensor.backward loosely).
LossFn = Callable[[torch.Tensor, torch.Tensor], Any]


@dataclass(frozen=True)
class EpochReport:
    """What a progress callback receives after each epoch (losses are MSE in normalised space)."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    lr: float
    seconds: float


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train_model(
    x: npt.NDArray[Any],
    variables: Sequence[str],
    columns: Sequence[str],
    config: AutoencoderConfig,
    train_config: TrainConfig,
    *,
    name: str = "model",
    progress: Callable[[EpochReport], None] | None = None,
    integer_variables: Sequence[str] = (),
    world: World | None = None,
) -> CompressionModel:
    """Train an autoencoder on physical values ``x`` of shape ``(rows, len(variables))``.

    ``integer_variables`` (counts, labels) are rounded to integers when the model decodes.
    ``world``: this process's place in a distributed run (default: torchrun's environment, if any;
    else ``train_config.ddp`` local processes are started when it is above 1). Every rank returns
    the same model.

    Returns the model with the best validation loss; its ``history`` holds per-epoch losses and its
    ``training`` dict the settings, split sizes, timing and test-split metrics.
    """
    data = np.asarray(x)
    if data.ndim != 2 or data.shape[1] != config.n_features:
        raise InputError(f"model {name!r} takes {config.n_features} variables, data have shape {data.shape}")
    if len(variables) != config.n_features or len(columns) != config.n_features:
        raise InputError(f"model {name!r} needs {config.n_features} variable and column names")
    split = split_rows(
        data.shape[0], train_config.val_fraction, train_config.test_fraction, train_config.seed
    )
    weights = train_config.loss_weights
    if weights is not None and len(weights) != config.n_features:
        raise ConfigError(
            f"model {name!r} takes {config.n_features} variables, got {len(weights)} loss weights"
        )
    if split.train.size < 2 or split.val.size < 1:
        raise InputError(
            f"too few rows to train on ({data.shape[0]}): need at least 2 for training and 1 for validation"
        )
    # the normaliser fitted in the network's variables, output constraints resolved against it
    probe = CompressionModel.untrained(
        config, train_config.normalisation, variables, columns, data[split.train], name=name
    )
    config, normaliser = probe.config, probe.normaliser
    probe.validate_input(data, columns)

    world = world if world is not None else world_from_environment()
    if world is None and train_config.ddp > 1:
        return _train_local_processes(
            _Job(data, tuple(variables), tuple(columns), config, train_config, name,
                 tuple(integer_variables), output=""),
            progress,
        )  # fmt: skip
    device = pick_device(train_config.device)
    if world is not None:
        device = join_world(world, device)
    torch.manual_seed(train_config.seed)
    net = Autoencoder(config).to(device)
    y = torch.from_numpy(probe.normalise(data)).to(device)
    fit = _fit(
        net, y[split.train], y[split.val], train_config,
        skip_single=config.batchnorm, progress=progress, world=world,
    )  # fmt: skip
    log.info(
        "trained %s: best val MSE %.3g at epoch %d (%.0f s, %s)",
        name,
        fit.best.val,
        fit.best.epoch + 1,
        fit.seconds,
        fit.stopped,
    )

    net.load_state_dict(fit.best.state)
    net = net.cpu().eval()
    model = CompressionModel(
        net,
        normaliser,
        tuple(variables),
        tuple(columns),
        name=name,
        history=fit.history,
        integer_variables=tuple(v for v in variables if v in integer_variables),
    )
    model.training = _training_info(model, data, split, train_config, device=device, fit=fit)
    model.training["processes"] = 1 if world is None else world.size
    return model


@dataclass(frozen=True)
class _Job:
    """One distributed training run, as each spawned process receives it (pickled: our own objects);
    rank 0 saves the model to ``output``, in the model file format."""

    x: npt.NDArray[Any]
    variables: tuple[str, ...]
    columns: tuple[str, ...]
    config: AutoencoderConfig
    train_config: TrainConfig
    name: str
    integer_variables: tuple[str, ...]
    output: str


def _train_local_processes(job: _Job, progress: Callable[[EpochReport], None] | None) -> CompressionModel:
    """``job`` on ``job.train_config.ddp`` local processes; the model rank 0 trained, read back from
    the model file it saved (no pickles)."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from hepsqueeze.models.io import load_model

    with tempfile.TemporaryDirectory(prefix="hepsqueeze-ddp-") as tmp:
        job = dataclasses.replace(job, output=str(Path(tmp) / "model.hsqm"))
        run_local(job.train_config.ddp, _train_rank, job, progress)
        return load_model(job.output)


def _train_rank(world: World, job: _Job, report: Callable[[Any], None] | None) -> None:
    """One process of :func:`_train_local_processes`."""
    from hepsqueeze.models.io import save_model

    model = train_model(
        job.x, job.variables, job.columns, job.config, job.train_config,
        name=job.name, progress=report, integer_variables=job.integer_variables, world=world,
    )  # fmt: skip
    if world.main:
        save_model(model, job.output)


@dataclass
class _Best:
    """The best validation loss so far (its epoch and weights), and the best since the warm-up ended.

    Early stopping compares against the best loss since the warm-up ended: during the warm-up the
    rising learning rate makes the loss noisy, and the annealing phase often only catches up with
    an early minimum near its end.
    """

    state: dict[str, Any]
    improved_epoch: int
    val: float = math.inf
    epoch: int = -1
    since_warmup: float = math.inf

    def update(self, epoch: int, val_loss: float, net: Autoencoder, warmup_epochs: int) -> None:
        if epoch >= warmup_epochs and val_loss < self.since_warmup:
            self.since_warmup, self.improved_epoch = val_loss, epoch
        if val_loss < self.val:
            self.val, self.epoch = val_loss, epoch
            self.state = copy.deepcopy(net.state_dict())


@dataclass(frozen=True)
class _Fit:
    """What the training loop returns: per-epoch history, the best epoch, why it stopped, its time."""

    history: dict[str, list[float]]
    best: _Best
    stopped: str
    seconds: float


def _fit(
    net: Autoencoder,
    y_train: torch.Tensor,
    y_val: torch.Tensor,
    train_config: TrainConfig,
    *,
    skip_single: bool,
    progress: Callable[[EpochReport], None] | None,
    world: World | None = None,
) -> _Fit:
    """Train ``net`` on the normalised rows ``y_train``, validating on ``y_val`` after each epoch.

    ``skip_single``: skip one-row batches (BatchNorm cannot train on a single row). ``world``: train
    as one of its processes (DistributedDataParallel; see :mod:`hepsqueeze.training.distributed`).
    """
    steps_per_epoch = max(1, math.ceil(y_train.shape[0] / train_config.batch_size))
    opt = torch.optim.AdamW(
        net.parameters(), lr=train_config.lr, betas=train_config.betas, weight_decay=train_config.weight_decay
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=train_config.lr, total_steps=train_config.epochs * steps_per_epoch, pct_start=PCT_START
    )
    warmup_epochs = int(PCT_START * train_config.epochs)
    gen = torch.Generator(device="cpu").manual_seed(train_config.seed)
    loss_fn = _loss(train_config.loss_weights, y_train.device, net)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "lr": [], "seconds": []}
    best = _Best(state=copy.deepcopy(net.state_dict()), improved_epoch=warmup_epochs)
    start = time.perf_counter()
    stopped = "epochs"
    stepper: torch.nn.Module = net
    if world is not None:
        from torch.nn.parallel import DistributedDataParallel

        ids = None if y_train.device.type == "cpu" else [y_train.device]
        stepper = DistributedDataParallel(net, device_ids=ids)
    for epoch in range(train_config.epochs):
        net.train()
        perm = torch.randperm(y_train.shape[0], generator=gen).to(y_train.device)
        train_loss = _train_epoch(
            stepper,
            opt,
            sched,
            y_train,
            perm,
            batch_size=train_config.batch_size,
            skip_single=skip_single,
            loss_fn=loss_fn,
            world=world,
            bfloat16=train_config.precision == "bfloat16",
        )
        val_loss = _evaluate(net, y_val, loss_fn)
        lr = float(sched.get_last_lr()[0])
        elapsed = time.perf_counter() - start
        if world is not None:  # rank 0 decides what every rank compares
            val_loss, elapsed = world.agree([val_loss, elapsed])
        for key, value in (
            ("train_loss", train_loss),
            ("val_loss", val_loss),
            ("lr", lr),
            ("seconds", elapsed),
        ):
            history[key].append(value)
        best.update(epoch, val_loss, net, warmup_epochs)
        if progress is not None:
            progress(EpochReport(epoch + 1, train_config.epochs, train_loss, val_loss, best.val, lr, elapsed))
        reason = _stop_reason(epoch, train_loss, elapsed, best, train_config)
        if reason is not None:
            stopped = reason
            break
    return _Fit(history, best, stopped, time.perf_counter() - start)


def _train_epoch(
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    y_train: torch.Tensor,
    perm: torch.Tensor,
    *,
    batch_size: int,
    skip_single: bool,
    loss_fn: LossFn,
    world: World | None = None,
    bfloat16: bool = False,
) -> float:
    """One pass over the rows of ``y_train`` in the order ``perm``, in batches; the mean training loss.

    With a ``world``, this process takes its shard of each batch (the mean over every process).
    ``bfloat16``: the forward pass under bfloat16 autocast (the loss in float32)."""
    total, seen = 0.0, 0
    processes = 1 if world is None else world.size
    for i in range(max(1, math.ceil(y_train.shape[0] / batch_size))):
        idx = perm[i * batch_size : (i + 1) * batch_size]
        # BatchNorm cannot train on a single row; under DDP every process needs its rows (or none
        # steps: the decision depends on the global batch only, so every process takes it alike)
        if idx.numel() < (2 if skip_single else 1) * processes:
            continue
        if world is not None:
            idx = world.shard(idx)
        batch = y_train[idx]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=bfloat16):
            out = net(batch)
        loss = loss_fn(out.float(), batch)
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * batch.shape[0]
        seen += batch.shape[0]
    if world is not None:
        total, seen_sum = world.sum([total, float(seen)])
        seen = int(seen_sum)
    return total / max(seen, 1)


def _stop_reason(
    epoch: int, train_loss: float, elapsed: float, best: _Best, train_config: TrainConfig
) -> str | None:
    """Why training stops after ``epoch`` (``diverged``, ``early-stopping``, ``time-limit``), or None."""
    if not math.isfinite(train_loss):
        return "diverged"
    if epoch - best.improved_epoch >= train_config.patience:
        return "early-stopping"
    if train_config.max_seconds is not None and elapsed > train_config.max_seconds:
        return "time-limit"
    return None


def _training_info(
    model: CompressionModel,
    data: npt.NDArray[Any],
    split: Split,
    train_config: TrainConfig,
    *,
    device: torch.device,
    fit: _Fit,
) -> dict[str, Any]:
    """The model's ``training`` record: settings, versions, split sizes, outcome, input range, metrics."""
    train_min = data[split.train].min(axis=0)
    train_max = data[split.train].max(axis=0)
    return {
        "hepsqueeze_version": __version__,
        "torch_version": torch.__version__,
        "config": train_config.to_dict(),
        "device": str(device),
        "rows": {
            "total": int(data.shape[0]),
            "train": int(split.train.size),
            "val": int(split.val.size),
            "test": int(split.test.size),
        },
        "epochs_run": len(fit.history["train_loss"]),
        "best_epoch": fit.best.epoch + 1,
        "stopped": fit.stopped,
        "seconds": fit.seconds,
        "best_val_mse_normalised": fit.best.val,
        # Physical min-max of the training split: the codec stores values outside it exactly.
        "input_range": [[float(lo), float(hi)] for lo, hi in zip(train_min, train_max, strict=True)],
        "metrics": _split_metrics(model, data, split.val, split.test),
    }


def _loss(weights: tuple[float, ...] | None, device: torch.device, net: Autoencoder) -> LossFn:
    """The mean squared error in normalised space, each variable's term times its weight (if any).

    A sampled output (see :class:`~hepsqueeze.models.autoencoder.SampledDecoder`) has the pinball
    loss at the levels of the network's last call instead of its squared error."""
    sampled = net.config.sampled_outputs
    if weights is None and not sampled:
        return torch.nn.MSELoss()
    w = torch.tensor(weights or (1.0,) * net.config.n_features, dtype=torch.float32, device=device)
    if not sampled:

        def weighted(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return ((out - target) ** 2 * w).mean()

        return weighted
    decoder = net.decoder
    if not isinstance(decoder, SampledDecoder):
        raise ConfigError("a config with sampled outputs needs its sampled decoder")
    index = torch.tensor(sampled, dtype=torch.long, device=device)

    def mixed(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        levels = decoder.levels
        if levels is None or levels.shape[0] != out.shape[0]:
            raise ConfigError("the sampled decoder's levels are not those of this batch")
        terms = ((out - target) ** 2).index_copy(1, index, pinball(out[:, index], target[:, index], levels))
        return (terms * w).mean()

    return mixed


@torch.no_grad()
def _evaluate(net: Autoencoder, y: torch.Tensor, loss_fn: LossFn, batch: int = 1 << 16) -> float:
    net.eval()
    total = 0.0
    for s in range(0, y.shape[0], batch):
        part = y[s : s + batch]
        total += float(loss_fn(net(part), part)) * part.shape[0]
    return total / max(y.shape[0], 1)


def _split_metrics(
    model: CompressionModel, data: npt.NDArray[Any], val: npt.NDArray[np.int64], test: npt.NDArray[np.int64]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part, rows in (("val", val), ("test", test)):
        if rows.size == 0:
            continue
        original = data[rows].astype(np.float32)
        recon = model.reconstruct(original)
        out[part] = {
            "mse_normalised": mse(model.normalise(original), model.normalise(recon)),
            "residuals": residual_summary(original, recon, model.variables, model.integer_variables),
        }
    return out

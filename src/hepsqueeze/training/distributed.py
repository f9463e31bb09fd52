"""Training on several processes with torch DistributedDataParallel: gloo on CPU, nccl on GPU.

Every process holds the whole training sample, draws the same seeded permutation and takes every
``size``-th row of each global batch, so one step of ``size`` processes sees the same rows as one
step of a single process with the same ``batch_size``; DDP averages the gradients. The model is the
single-process model up to floating-point rounding of the reductions (its quality is tested against
it). Decisions that must agree on every process (the validation loss early stopping compares, the
elapsed time of the time limit) are taken by rank 0 and broadcast.

Two ways in: ``TrainConfig(ddp=N)`` starts N local processes (:func:`run_local`); under
``torchrun`` (``RANK``/``WORLD_SIZE`` in the environment) the process group comes from torchrun
and every rank trains, the caller saving on rank 0 only (:func:`is_main_process`).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import torch
import torch.distributed as dist

from hepsqueeze.cores import usable_cores
from hepsqueeze.errors import ConfigError, HepsqueezeError

log = logging.getLogger(__name__)

#: The loopback address local processes meet at.
LOCAL_ADDRESS: Final = "127.0.0.1"
#: Seconds between looks at the progress queue while local processes train.
POLL_SECONDS: Final = 0.2


class DistributedError(HepsqueezeError, RuntimeError):
    """A distributed training process failed (``rank``: the first that did, when known)."""

    def __init__(self, message: str, *, rank: int | None = None) -> None:
        super().__init__(message)
        self.rank = rank


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` training processes."""

    rank: int
    size: int
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size or self.local_rank < 0:
            raise ConfigError(f"invalid process world: rank {self.rank} of {self.size}")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def backend(self, device: torch.device) -> str:
        """nccl for CUDA devices, gloo otherwise."""
        return "nccl" if device.type == "cuda" else "gloo"

    def device(self, device: torch.device) -> torch.device:
        """This process's device: its own GPU (``local_rank``) on CUDA."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def shard(self, rows: torch.Tensor) -> torch.Tensor:
        """This process's share of one global batch: every ``size``-th row from ``rank``."""
        return rows[self.rank :: self.size]

    def sum(self, values: Sequence[float]) -> list[float]:
        """The sums of ``values`` over every process."""
        t = torch.tensor(values, dtype=torch.float64, device=_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return [float(v) for v in t.cpu()]

    def agree(self, values: Sequence[float]) -> list[float]:
        """Rank 0's ``values``, on every process."""
        t = torch.tensor(values, dtype=torch.float64, device=_collective_device())
        dist.broadcast(t, src=0)
        return [float(v) for v in t.cpu()]


def _collective_device() -> torch.device:
    """Where collective tensors live: nccl reduces on the GPU, gloo on the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def world_from_environment(environ: Mapping[str, str] | None = None) -> World | None:
    """The world torchrun (or any launcher setting ``RANK`` and ``WORLD_SIZE``) put this process in;
    None when there is none or it holds one process."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return None
    try:
        size, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
        local = int(env.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise ConfigError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {exc}") from None
    return None if size <= 1 else World(rank, size, local)


def is_main_process() -> bool:
    """False on every rank but 0 of a distributed run (the one that saves and prints)."""
    world = world_from_environment()
    return world is None or world.main


def join_world(world: World, device: torch.device) -> torch.device:
    """Join the process group of ``world`` (from the environment) unless joined; this process's device."""
    local = world.device(device)
    if local.type == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(world.backend(local), rank=world.rank, world_size=world.size)
    return local


def free_port() -> int:
    """A TCP port free on the loopback address now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL_ADDRESS, 0))
        return int(s.getsockname()[1])


def run_local(
    processes: int,
    target: Callable[[World, Any, Callable[[Any], None] | None], None],
    job: Any,
    progress: Callable[[Any], None] | None = None,
) -> None:
    """Run ``target(world, job, report)`` on ``processes`` spawned local processes meeting on the
    loopback address, with ``cores / processes`` threads each; rank 0's ``report(x)`` calls reach
    ``progress`` here (the others get None).

    ``target`` and ``job`` are pickled to the new processes: our own function and objects, never
    anything read from a file.
    """
    import torch.multiprocessing as mp
    from torch.multiprocessing.spawn import ProcessExitedException, ProcessRaisedException, start_processes

    cores = usable_cores()
    threads = max(1, cores // processes)
    reports: Any = mp.get_context("spawn").Queue()
    log.info("starting %d training processes (%d threads each)", processes, threads)
    procs = start_processes(  # type: ignore[no-untyped-call]
        _child,
        args=(_Spawn(processes, free_port(), threads, target, job, reports),),
        nprocs=processes,
        join=False,
        start_method="spawn",
    )
    try:
        while not procs.join(timeout=POLL_SECONDS):
            _drain(reports, progress)
    except ProcessRaisedException as exc:
        raise DistributedError(
            f"training process {exc.error_index} failed: {exc}", rank=exc.error_index
        ) from None
    except ProcessExitedException as exc:
        raise DistributedError(
            f"training process {exc.error_index} exited with code {exc.exit_code}", rank=exc.error_index
        ) from None
    _drain(reports, progress)


def _drain(reports: Any, progress: Callable[[Any], None] | None) -> None:
    while True:
        try:
            report = reports.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(report)


@dataclass(frozen=True)
class _Spawn:
    """What every spawned process receives."""

    size: int
    port: int
    threads: int
    target: Callable[[World, Any, Callable[[Any], None] | None], None]
    job: Any
    reports: Any


def _child(rank: int, spawn: _Spawn) -> None:
    """One spawned process: its environment as torchrun would set it, then the target."""
    torch.set_num_threads(spawn.threads)
    os.environ.update(
        {
            "MASTER_ADDR": LOCAL_ADDRESS,
            "MASTER_PORT": str(spawn.port),
            "RANK": str(rank),
            "WORLD_SIZE": str(spawn.size),
            "LOCAL_RANK": str(rank),
        }
    )
    world = World(rank, spawn.size, rank)
    try:
        spawn.target(world, spawn.job, spawn.reports.put if world.main else None)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()

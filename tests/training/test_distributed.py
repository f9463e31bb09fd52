"""Distributed training: the process world, sharding, and (slow) DDP on two CPU processes giving the
single-process model within the model card's tolerance, spawned locally and under torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from codec_helpers import fake_jets
from hepsqueeze.errors import ConfigError
from hepsqueeze.training.config import TrainConfig
from hepsqueeze.training.distributed import World, is_main_process, world_from_environment


def test_world_is_checked() -> None:
    with pytest.raises(ConfigError):
        World(rank=2, size=2)
    with pytest.raises(ConfigError):
        World(rank=0, size=0)
    assert World(0, 2).main
    assert not World(1, 2).main


def test_shards_of_a_batch_cover_it_once() -> None:
    rows = torch.arange(11)
    parts = [World(r, 3).shard(rows) for r in range(3)]
    assert sorted(torch.cat(parts).tolist()) == list(range(11))
    assert [p.numel() for p in parts] == [4, 4, 3]


def test_backend_and_device_follow_the_device() -> None:
    world = World(1, 2, local_rank=1)
    assert world.backend(torch.device("cpu")) == "gloo"
    assert world.backend(torch.device("cuda")) == "nccl"
    assert world.device(torch.device("cuda")) == torch.device("cuda", 1)
    assert world.device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"RANK": "0", "WORLD_SIZE": "1"}, None),
        ({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, World(1, 4, 1)),
    ],
)
def test_world_from_environment(env: dict[str, str], expected: World | None) -> None:
    assert world_from_environment(env) == expected


def test_a_bad_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="integers"):
        world_from_environment({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError):
        world_from_environment({"RANK": "3", "WORLD_SIZE": "2"})


def test_main_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert is_main_process()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()


@pytest.mark.parametrize("ddp", [0, -1, 1.5])
def test_ddp_must_be_a_positive_count(ddp: object) -> None:
    with pytest.raises(ConfigError, match="ddp"):
        TrainConfig(ddp=ddp)  # type: ignore[arg-type]


def _card_tolerance() -> float:
    from hepsqueeze.zoo.registry import card

    return card("ae4d-3").tolerance


@pytest.mark.slow
def test_two_cpu_processes_give_the_single_process_model() -> None:
    """Same seed, same global batches: the DDP model's validation loss and residuals are the
    single-process ones within the model card's tolerance (in practice they agree to ~1e-5)."""
    from hepsqueeze.api import train

    x = fake_jets(np.random.default_rng(1), 6000)
    one = train(x, "ae4d-3", epochs=4, batch_size=256, seed=3, device="cpu")
    two = train(x, "ae4d-3", epochs=4, batch_size=256, seed=3, device="cpu", ddp=2)
    assert one.training["processes"] == 1
    assert two.training["processes"] == 2
    tol = _card_tolerance()
    a, b = one.training["best_val_mse_normalised"], two.training["best_val_mse_normalised"]
    assert abs(b - a) <= tol * a
    for var in one.variables:
        s1 = one.training["metrics"]["test"]["residuals"][var]["std"]
        s2 = two.training["metrics"]["test"]["residuals"][var]["std"]
        assert abs(s2 - s1) <= tol * s1
    assert len(two.history["val_loss"]) == len(one.history["val_loss"])


@pytest.mark.slow
def test_train_under_torchrun_saves_once(tmp_path: Path) -> None:
    from hepsqueeze.io import write_table
    from hepsqueeze.io.table import Table
    from hepsqueeze.models import load_model

    x = fake_jets(np.random.default_rng(2), 3000)
    data = write_table(
        Table({k: x[:, i] for i, k in enumerate(("E", "pt", "eta", "phi"))}), tmp_path / "j.parquet"
    )
    cli = Path(sys.executable).with_name("hepsqueeze")
    torchrun = Path(sys.executable).with_name("torchrun")
    out = tmp_path / "m.hsqm"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    done = subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2", "--no-python", str(cli),
         "train", str(data), "-o", str(out), "--epochs", "2", "--device", "cpu"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("saved to") == 1
    model = load_model(out)
    assert model.training["processes"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.parquet", "m.hsqm"]

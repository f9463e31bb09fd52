"""``train`` and the ``zoo`` commands: making models, and the models shipped with hepsqueeze."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hepsqueeze.cli.errors import option_hint
from hepsqueeze.cli.options import (
    BatchSizeOpt,
    ForceOpt,
    JsonOpt,
    OutOpt,
    PresetOpt,
    ReaderOptions,
    WorkersOpt,
    columns_option,
    path_argument,
    split_ints,
    split_list,
    with_reader_options,
)
from hepsqueeze.cli.render import print_json, print_trained, print_validation, print_zoo, progress

if TYPE_CHECKING:
    from hepsqueeze.io.table import Table
    from hepsqueeze.models import AutoencoderConfig


@with_reader_options
def train(
    input_file: Annotated[Path, path_argument("Table of jets to train on.", metavar="INPUT")],
    output: OutOpt,
    preset: PresetOpt = "ae4d-3",
    nodes: Annotated[
        str | None, typer.Option(help="Layer sizes instead of the preset's, e.g. 4,200,20,3,20,200,4.")
    ] = None,
    batchnorm: Annotated[
        bool, typer.Option("--batchnorm/--no-batchnorm", help="BatchNorm after hidden layers.")
    ] = False,
    columns: Annotated[
        str | None, columns_option("Input columns, mapped in order onto the variables.")
    ] = None,
    variables: Annotated[
        str | None, typer.Option(help="Model variable names (default E,pt,eta,phi).")
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(help="Maximum epochs (default 100; 24 with --codec bounded).", show_default=False),
    ] = None,
    batch_size: BatchSizeOpt = 512,
    lr: Annotated[float, typer.Option(help="Peak learning rate of the one-cycle schedule.")] = 3e-3,
    weight_decay: Annotated[float, typer.Option(help="Decoupled weight decay.")] = 0.0,
    normalisation: Annotated[
        str, typer.Option(help="custom, custom+minmax, minmax, standard or none.")
    ] = "custom+minmax",
    patience: Annotated[
        int, typer.Option(help="Early stopping: epochs without improvement, counted after the warm-up.")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the split, initialisation and shuffling.")] = 0,
    max_minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    ddp: Annotated[
        int,
        typer.Option(
            "--ddp",
            metavar="N",
            help="Train on N local processes with torch DistributedDataParallel (gloo on CPU, nccl on "
            "GPU), each taking 1/N of every batch; under torchrun the processes come from torchrun.",
        ),
    ] = 1,
    bf16: Annotated[
        bool,
        typer.Option(
            "--bf16/--no-bf16",
            help="Forward passes of the training steps in bfloat16 (autocast; the model stays float32): "
            "faster on CPUs with AVX-512 and on GPUs, a little less accurate.",
        ),
    ] = False,
    force: ForceOpt = False,
    *,
    reader: ReaderOptions,
    objects: Annotated[
        str | None,
        typer.Option(help="Event files: train on these object types only, e.g. j,b (default: all objects)."),
    ] = None,
    codec: Annotated[
        str,
        typer.Option(
            help="autoencoder, or bounded: a conditional model of the error-bounded codec, trained at "
            "the bounds of --max-error / --precision (then use it with compress --max-error ... --model)."
        ),
    ] = "autoencoder",
    max_error: Annotated[
        str | None, typer.Option("--max-error", help="--codec bounded: the bounds, as compress takes them.")
    ] = None,
    precision: Annotated[
        str | None, typer.Option("--precision", help="--codec bounded: a precision file or preset.")
    ] = None,
    hidden: Annotated[
        int, typer.Option(help="--codec bounded: hidden units per layer of each column's network.")
    ] = 64,
    layers: Annotated[int, typer.Option(help="--codec bounded: hidden layers of each column's network.")] = 2,
) -> None:
    """Train an autoencoder on a table of jets (or the objects of an event file), or a conditional
    model of the error-bounded codec (--codec bounded), and save the model file."""
    from hepsqueeze.atomic import check_output

    check_output(output, force)
    from hepsqueeze.io.registry import CONDITIONAL_SUFFIX, MODEL_SUFFIX, check_output_name

    check_output_name(output, CONDITIONAL_SUFFIX if codec == "bounded" else MODEL_SUFFIX, force=force)
    if codec == "bounded":
        if ddp != 1 or bf16:
            raise typer.BadParameter(
                "trains the autoencoder only (not --codec bounded)",
                param_hint="--ddp" if ddp != 1 else "--bf16",
            )
        _train_bounded(
            input_file, output, reader, max_error, precision, hidden, layers,
            epochs or 24, batch_size, lr, seed, force,
        )  # fmt: skip
        return
    if codec != "autoencoder":
        raise typer.BadParameter(f"unknown codec {codec!r}: autoencoder or bounded", param_hint="--codec")
    if max_error is not None or precision is not None:
        raise typer.BadParameter("applies to --codec bounded only", param_hint="--max-error/--precision")
    epochs = epochs or 100
    from hepsqueeze.api import train as api_train
    from hepsqueeze.models import save_model
    from hepsqueeze.training import EpochReport, TrainConfig

    arch = _architecture(preset, nodes, batchnorm)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        normalisation=normalisation,
        patience=patience,
        seed=seed,
        device=device,
        max_seconds=None if max_minutes is None else 60 * max_minutes,
        ddp=ddp,
        precision="bfloat16" if bf16 else "float32",
    )
    cols = split_list(columns, "--columns")
    table = _training_table(input_file, cols, reader, split_list(objects, "--objects"))
    from hepsqueeze.training.distributed import is_main_process

    bar = progress()
    bar.disable = not is_main_process()  # one bar under torchrun: rank 0's
    with bar:
        task = bar.add_task("training", total=epochs, info="")

        def report(r: EpochReport) -> None:
            bar.update(
                task,
                completed=r.epoch,
                info=f"train {r.train_loss:.3g}  val {r.val_loss:.3g}  best {r.best_val_loss:.3g}",
            )

        model = api_train(
            table,
            arch,
            variables=split_list(variables, "--variables"),
            columns=cols,
            config=config,
            progress=report,
        )
    if not is_main_process():
        return  # under torchrun every rank trains the same model; rank 0 saves it
    model.name = preset if nodes is None and not batchnorm else f"{preset}-custom"
    save_model(model, output, force=force)
    print_trained(model, output)


def _train_bounded(
    input_file: Path,
    output: Path,
    reader: ReaderOptions,
    max_error: str | None,
    precision: str | None,
    hidden: int,
    layers: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    force: bool,
) -> None:
    """``train --codec bounded``: a conditional model at the bounds given, saved to ``output``."""
    from hepsqueeze.api import train_bounded
    from hepsqueeze.cli.options import load_precision_options
    from hepsqueeze.cli.render import print_trained_conditional
    from hepsqueeze.training.conditional import ConditionalTrainingConfig

    if max_error is None and precision is None:
        raise typer.BadParameter("--codec bounded trains at bounds: give --max-error or --precision")
    parsed = load_precision_options(max_error, precision)
    with option_hint("--hidden"):
        config = ConditionalTrainingConfig(
            hidden=hidden, layers=layers, epochs=epochs, batch=batch_size, learning_rate=lr, seed=seed,
            name=output.stem, metadata={"input": input_file.name},
        )  # fmt: skip
    table = _training_table(input_file, None, reader, None)
    result = train_bounded(table, max_error=parsed, config=config)
    result.model.save(output, force=force)
    print_trained_conditional(result, output)


def _architecture(preset: str, nodes: str | None, batchnorm: bool) -> AutoencoderConfig:
    """The preset's architecture, with ``--nodes`` and ``--batchnorm`` applied."""
    import dataclasses

    from hepsqueeze.models import get_preset

    with option_hint("--preset"):
        arch = get_preset(preset)
    layers = split_ints(nodes, "--nodes")
    if layers is not None:
        arch = dataclasses.replace(arch, nodes=tuple(layers))
    if batchnorm:
        arch = dataclasses.replace(arch, batchnorm=True)
    return arch


def _training_table(
    input_file: Path, columns: list[str] | None, reader: ReaderOptions, objects: list[str] | None
) -> Table:
    """The table to train on: the input's columns, or the given object types of an event file."""
    if objects is None:
        from hepsqueeze.io import read_table

        return read_table(input_file, columns=columns, **reader.read_kwargs())
    from hepsqueeze.io import read_dataset

    ds = read_dataset(input_file, columns=columns, **reader.read_kwargs())
    with option_hint("--objects"):
        return ds.objects(objects)


def zoo_list() -> None:
    """The shipped models with their training data and test-split residuals."""
    from hepsqueeze.zoo import list_models, model_path

    print_zoo(list_models(), lambda name: model_path(name).stat().st_size)


def zoo_validate(
    name: Annotated[str, typer.Argument(help="Zoo model name.")],
    events: Annotated[int | None, typer.Option(help="Events per process (default: the card's).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Generator seed (default: the card's, not the training seed).")
    ] = None,
    workers: WorkersOpt = 2,
    as_json: JsonOpt = False,
) -> None:
    """Generate a fresh sample, apply the shipped model and compare its residuals with the model card."""
    from hepsqueeze.zoo import validate

    res = validate(name, events_per_process=events, seed=seed, workers=workers)
    if as_json:
        print_json(res.to_dict())
    else:
        print_validation(res)
    if not res.passed:
        raise typer.Exit(3)

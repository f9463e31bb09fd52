"""``export``: an autoencoder's encoder and decoder as ONNX graphs, for inference outside hepsqueeze."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hepsqueeze.cli.errors import OptionError
from hepsqueeze.cli.options import ForceOpt, JsonOpt
from hepsqueeze.cli.render import console, print_json

FORMATS = ("onnx",)


def export(
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="An autoencoder's model file (.hsqm) or zoo:NAME.")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Output name: m.onnx writes m.encoder.onnx and m.decoder.onnx beside it.",
            readable=False,
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="Export format (onnx is the only one).")] = "onnx",
    normalised: Annotated[
        bool,
        typer.Option(
            "--normalised",
            help="The network alone, on normalised values (for tools without Log/Pow, e.g. hls4ml); "
            "the normalisation's parameters are in the metadata. Default: physical values in and out.",
        ),
    ] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset (11 to 20).")] = 17,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Export an autoencoder's encoder and decoder as ONNX (batch axis dynamic), each file checked
    with onnx.checker and run with onnxruntime against torch before it is written.

    Example: hepsqueeze export zoo:ae4d-3 -o ae4d-3.onnx
    """
    if fmt.lower() not in FORMATS:
        raise OptionError(f"unsupported export format {fmt!r}: only onnx", "--format")
    from hepsqueeze.models.onnx_export import OPSETS, export_onnx

    if opset not in OPSETS:
        raise OptionError(
            f"ONNX opset {opset} is not supported: {OPSETS.start} to {OPSETS.stop - 1}", "--opset"
        )
    from hepsqueeze.api import decoder_model

    loaded = decoder_model(model)
    result = export_onnx(loaded, output, physical=not normalised, opset=opset, force=force)
    if as_json:
        print_json(result.to_dict())
        return
    io = "physical" if result.physical else "normalised"
    for part in (result.encoder, result.decoder):
        console.print(
            f"{part.path}: {part.part}, {part.input_name} -> {part.output_name}, {part.bytes} bytes; "
            f"onnxruntime vs torch: max |diff| {part.max_abs_diff:.2g} on {part.rows} rows",
            highlight=False,
        )
    console.print(
        f"{result.model_name}: {io} values in and out (opset {result.opset}, batch axis dynamic); "
        "model name, version, variables, latent size and normalisation in the ONNX metadata_props",
        highlight=False,
    )

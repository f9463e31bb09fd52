"""Export an autoencoder's encoder and decoder as two ONNX graphs, each checked before it is published.

``export_onnx(model, "out/m.onnx")`` writes ``out/m.encoder.onnx`` (physical values ``(batch, F)``
float32 in, latent codes ``(batch, latent)`` float32 out) and ``out/m.decoder.onnx`` (latents in,
physical values out). The batch axis is dynamic. Inputs and outputs are named ``physical`` and
``latent``.

The model's normalisation is part of both graphs: every scheme hepsqueeze fits is
``y = (g(x) - shift) / scale`` with ``g`` the identity or ``log10(x + offset)``, which ONNX
expresses with Add, Log, Div, Pow and Where. As in :meth:`CompressionModel.encode`, it is computed
in float64 inside the graph (Cast in, Cast out) and the network runs in float32; the decoder rounds
the model's integer variables (Round: half to even, as ``numpy.rint``). Unlike ``encode``, a graph
cannot refuse input: a logged variable at or below ``-offset`` gives NaN latents, NaN in gives NaN
out. The decoder's output constraints (a softplus floor, a clamped or sigmoid range: see
:mod:`hepsqueeze.models.autoencoder`) are part of its network and so of both kinds of graph. A
model in the ``mass`` representation (the network sees m computed from E, pt and eta, see
:mod:`hepsqueeze.models.four_vector`) exports with ``physical=False`` only: the graphs do not compute
the representation. With ``physical=False`` the graphs are the network alone on normalised values (for tools that
take no Log or Pow, such as hls4ml on trigger hardware), and the inputs and outputs are named
``normalised`` and ``latent``; the normalisation parameters are in the metadata either way.

Every file carries ``metadata_props``: ``format`` (``hepsqueeze-onnx/1``), ``part``, ``model_name``,
``hepsqueeze_version``, ``variables``, ``columns``, ``latent_dim``, ``io`` (``physical`` or
``normalised``), ``representation``, ``normalisation_in_graph``, ``normalisation`` (the normaliser as JSON),
``integer_variables``, ``architecture`` and ``decoder_hash``.

Each file is written to a temporary name, read back with ``onnx.checker`` and run with onnxruntime
on a check batch (batch sizes 1, 7 and the whole batch) against torch: the latents must agree within
``tolerance`` (1e-5), the decoder's outputs within the same tolerance in normalised units (in
physical units that is ``tolerance * scale`` for a linear variable and the relative difference
``tolerance * scale * ln 10`` for a logged one). Only when both files pass are they published; a
failure raises :class:`~hepsqueeze.errors.VerificationError` and leaves no file.

torch, onnx and onnxruntime are imported only when a function runs.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.atomic import atomic_output, check_output
from hepsqueeze.errors import ConfigError, InputError, ModelError, OutputExistsError, VerificationError
from hepsqueeze.models.constants import EVAL_BATCH
from hepsqueeze.version import __version__

if TYPE_CHECKING:
    import torch

    from hepsqueeze.models.model import CompressionModel

FORMAT: Final = "hepsqueeze-onnx/1"
DEFAULT_OPSET: Final = 17
#: ONNX opsets the export takes (each tested): Round needs 11; torch's legacy exporter writes up to 20.
OPSETS: Final = range(11, 21)
TOLERANCE: Final = 1e-5
CHECK_ROWS: Final = 1000
#: The default check rows are drawn uniformly over this range in normalised units: the box where a
#: min-max normalisation puts its training data, and the bulk of the other schemes' (pt 20-320 GeV
#: with the custom one).
CHECK_RANGE: Final = (0.0, 1.0)
#: Batch sizes run through onnxruntime at the check, besides the whole batch (the dynamic axis).
CHECK_BATCHES: Final = (1, 7)
BATCH_AXIS: Final = "batch"
# The warnings the legacy (TorchScript) exporter gives on every call; nothing else is silenced.
_EXPORTER_WARNINGS: Final = (
    r"You are using the legacy TorchScript-based ONNX export",
    r"The feature will be removed",
)
_LN10: Final = math.log(10.0)


@dataclass(frozen=True)
class PartCheck:
    """One exported graph: its file, size, names and the largest difference onnxruntime vs torch."""

    part: str
    path: Path
    bytes: int
    input_name: str
    output_name: str
    #: The largest ``|onnxruntime - torch|``, in normalised units (latent units for the encoder).
    max_abs_diff: float
    #: The largest difference over ``max(1, |torch's value|)``, the quantity held to the tolerance.
    max_error: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "path": str(self.path),
            "bytes": self.bytes,
            "input": self.input_name,
            "output": self.output_name,
            "max_abs_diff": self.max_abs_diff,
            "max_error": self.max_error,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote: the encoder's and decoder's files and their checks."""

    model_name: str
    physical: bool
    opset: int
    tolerance: float
    encoder: PartCheck
    decoder: PartCheck

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "io": "physical" if self.physical else "normalised",
            "normalisation_in_graph": self.physical,
            "opset": self.opset,
            "tolerance": self.tolerance,
            "encoder": self.encoder.to_dict(),
            "decoder": self.decoder.to_dict(),
        }


def onnx_paths(output: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The encoder's and decoder's files for ``output``: ``m.onnx`` -> ``m.encoder.onnx``, ``m.decoder.onnx``."""
    out = Path(output)
    if not out.name or out.name in (".", ".."):
        raise ConfigError(f"output {str(output)!r} names no file; give a name such as m.onnx")
    stem = out.name[: -len(".onnx")] if out.name.lower().endswith(".onnx") else out.name
    if not stem:
        raise ConfigError(f"output {str(output)!r} has no name before .onnx; give a name such as m.onnx")
    return out.with_name(f"{stem}.encoder.onnx"), out.with_name(f"{stem}.decoder.onnx")


def io_names(physical: bool) -> tuple[str, str]:
    """The encoder's input name and the latents' name (the decoder's are the other way round)."""
    return ("physical" if physical else "normalised"), "latent"


def require_autoencoder(model: object) -> CompressionModel:
    """``model`` if it is an autoencoder with its encoder; :class:`ModelError` naming what it is otherwise."""
    from hepsqueeze.models.conditional.model import ConditionalModel
    from hepsqueeze.models.model import CompressionModel

    if isinstance(model, ConditionalModel):
        raise ModelError(
            f"model {model.name!r} is a conditional model of the error-bounded codec; "
            "only autoencoders export to ONNX"
        )
    if not isinstance(model, CompressionModel):
        raise ModelError(f"cannot export a {type(model).__name__}: only autoencoders export to ONNX")
    if not model.has_encoder:
        raise ModelError(
            f"model {model.name!r} holds only its decoder (as embedded in a compressed file); "
            "export the full model file"
        )
    return model


def export_modules(model: CompressionModel, physical: bool = True) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The torch modules that are exported: encoder and decoder, with the normalisation if ``physical``.

    They are copies on the CPU in eval mode; the model is not changed.
    """
    import torch
    from torch import nn

    model = require_autoencoder(model)
    net = copy.deepcopy(model.network).cpu().eval()
    transforms = model.normaliser.transforms
    log = torch.tensor([t.log for t in transforms])
    offset = torch.tensor([t.log_offset for t in transforms], dtype=torch.float64)
    shift = torch.tensor([t.shift for t in transforms], dtype=torch.float64)
    scale = torch.tensor([t.scale for t in transforms], dtype=torch.float64)
    integer = torch.tensor([v in model.integer_variables for v in model.variables])

    class Transform(nn.Module):
        """The normaliser's parameters as float64 buffers (they travel into the graph as constants)."""

        log: torch.Tensor
        offset: torch.Tensor
        shift: torch.Tensor
        scale: torch.Tensor
        integer: torch.Tensor
        ten: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.any_log = bool(log.any())
            self.any_integer = bool(integer.any())
            for name, value in (("log", log), ("offset", offset), ("shift", shift), ("scale", scale)):
                self.register_buffer(name, value.clone())
            self.register_buffer("integer", integer.clone())
            self.register_buffer("ten", torch.tensor(10.0, dtype=torch.float64))

    class Normalise(Transform):
        """Physical float32 -> normalised float32, computed in float64."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            d = x.to(torch.float64)
            if self.any_log:
                # the log of the logged columns only (no NaN from the others, even unused)
                logged = torch.log10(torch.where(self.log, d + self.offset, 1.0))
                d = torch.where(self.log, logged, d)
            return ((d - self.shift) / self.scale).to(torch.float32)

    class Denormalise(Transform):
        """Normalised float32 -> physical float32 (computed in float64), integer variables rounded."""

        def forward(self, y: torch.Tensor) -> torch.Tensor:
            d = y.to(torch.float64) * self.scale + self.shift
            if self.any_log:
                powered = torch.pow(self.ten, torch.where(self.log, d, 0.0)) - self.offset
                d = torch.where(self.log, powered, d)
            x = d.to(torch.float32)
            if self.any_integer:
                x = torch.where(self.integer, torch.round(x), x)
            return x

    if not physical:
        return net.encoder, net.decoder
    return nn.Sequential(Normalise(), net.encoder).eval(), nn.Sequential(net.decoder, Denormalise()).eval()


def export_onnx(
    model: object,
    output: str | os.PathLike[str],
    *,
    physical: bool = True,
    opset: int = DEFAULT_OPSET,
    check_inputs: npt.NDArray[Any] | None = None,
    tolerance: float = TOLERANCE,
    force: bool = False,
    seed: int = 0,
) -> OnnxExport:
    """Write ``model``'s encoder and decoder beside ``output`` (see :func:`onnx_paths`) as ONNX.

    ``check_inputs`` are physical rows ``(N, F)`` for the check (default: :data:`CHECK_ROWS` rows
    drawn uniformly over :data:`CHECK_RANGE` in normalised units, mapped back to physical values). Both files are
    published only if both pass the check (see the module docstring); :class:`VerificationError`
    otherwise. Existing files are refused unless ``force``.
    """
    ae = require_autoencoder(model)
    if ae.config.sampled_outputs:
        raise ModelError(
            f"model {ae.name!r} draws its sampled outputs at levels hashed from the latent's float32 bits, "
            "which ONNX has no operator for (no bit cast): it cannot be exported"
        )
    if physical and ae.representation != "identity":
        raise ModelError(
            f"model {ae.name!r} works in the {ae.representation} representation (the network sees m, "
            "computed from E, pt and eta), which the exported graphs do not compute: export the network "
            "on normalised values (physical=False) and apply the representation and the normalisation "
            "from the metadata",
            option="normalised",
        )
    if opset not in OPSETS:
        raise ConfigError(f"ONNX opset {opset} is not supported; choose {OPSETS.start}..{OPSETS.stop - 1}")
    if not (isinstance(tolerance, int | float) and 0 < tolerance < 1):
        raise ConfigError(f"tolerance must be a number in (0, 1), got {tolerance!r}")
    onnx_mod, _ = _onnx_libraries()
    out = Path(output)
    if out.is_dir():
        raise OutputExistsError(f"output {str(out)!r} is a directory; give a file name such as m.onnx in it")
    enc_path, dec_path = onnx_paths(out)
    check_output(enc_path, force)
    check_output(dec_path, force)
    x_check = _check_batch(ae, check_inputs, seed)
    encoder, decoder = export_modules(ae, physical)
    in_name, latent_name = io_names(physical)
    meta = metadata(ae, physical)
    enc_bytes = _with_metadata(
        onnx_mod,
        _onnx_bytes(encoder, len(ae.variables), in_name, latent_name, opset),
        {**meta, "part": "encoder"},
    )
    dec_bytes = _with_metadata(
        onnx_mod,
        _onnx_bytes(decoder, ae.latent_dim, latent_name, in_name, opset),
        {**meta, "part": "decoder"},
    )
    with atomic_output(enc_path, force) as enc_tmp, atomic_output(dec_path, force) as dec_tmp:
        enc_tmp.write_bytes(enc_bytes)
        dec_tmp.write_bytes(dec_bytes)
        enc_diff, z_ref = _check_encoder(
            ae, tmp=enc_tmp, published=enc_path, x=x_check, physical=physical, tol=tolerance
        )
        dec_diff = _check_decoder(
            ae, tmp=dec_tmp, published=dec_path, z=z_ref, physical=physical, tol=tolerance
        )
    return OnnxExport(
        model_name=ae.name,
        physical=physical,
        opset=opset,
        tolerance=tolerance,
        encoder=PartCheck("encoder", enc_path, len(enc_bytes), in_name, latent_name, *enc_diff, len(x_check)),
        decoder=PartCheck("decoder", dec_path, len(dec_bytes), latent_name, in_name, *dec_diff, len(z_ref)),
    )


def check_onnx(
    path: str | os.PathLike[str],
    model: object,
    *,
    check_inputs: npt.NDArray[Any] | None = None,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Check an exported file against ``model`` as :func:`export_onnx` does before publishing.

    The part (encoder or decoder) and whether it takes physical values are read from the file's
    metadata. Returns the largest absolute difference and the largest error (see
    :func:`scaled_error`); raises :class:`VerificationError` if the file fails onnx.checker, has
    other inputs or outputs, or disagrees with torch beyond ``tolerance``.
    """
    ae = require_autoencoder(model)
    where = Path(path)
    meta = read_metadata(where)
    part = meta.get("part")
    if meta.get("format") != FORMAT or part not in ("encoder", "decoder"):
        raise VerificationError(
            f"{where}: not an encoder or decoder exported by hepsqueeze (no {FORMAT} metadata)"
        )
    physical = meta.get("io") == "physical"
    x = _check_batch(ae, check_inputs, seed)
    if part == "encoder":
        measured, _ = _check_encoder(ae, tmp=where, published=where, x=x, physical=physical, tol=tolerance)
        return measured
    return _check_decoder(ae, tmp=where, published=where, z=ae.encode(x), physical=physical, tol=tolerance)


def metadata(model: CompressionModel, physical: bool) -> dict[str, str]:
    """The ``metadata_props`` every exported file carries (strings; lists and objects as JSON)."""
    return {
        "format": FORMAT,
        "model_name": model.name,
        "hepsqueeze_version": __version__,
        "variables": json.dumps(list(model.variables)),
        "columns": json.dumps(list(model.columns)),
        "latent_dim": str(model.latent_dim),
        "io": "physical" if physical else "normalised",
        "representation": model.representation,
        "normalisation_in_graph": "true" if physical else "false",
        "normalisation": json.dumps(model.normaliser.to_dict()),
        "integer_variables": json.dumps(list(model.integer_variables)),
        "architecture": json.dumps(model.config.to_dict()),
        "decoder_hash": _decoder_hash(model),
    }


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict."""
    onnx_mod, _ = _onnx_libraries()
    try:
        proto = onnx_mod.load(os.fspath(path), load_external_data=False)
    except OSError:
        raise
    except Exception as exc:  # protobuf's DecodeError and the like
        raise InputError(f"{str(path)!r} is not a readable ONNX file: {exc}", path=str(path)) from None
    return {p.key: p.value for p in proto.metadata_props}


def session(path: str | os.PathLike[str] | bytes, threads: int = 0) -> Any:
    """An onnxruntime CPU session of ``path`` (``threads`` intra-op threads; 0: onnxruntime's default)."""
    _, ort = _onnx_libraries()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: onnxruntime's warnings go to stderr, past logging
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = path if isinstance(path, bytes) else os.fspath(path)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


# --- internals -----------------------------------------------------------------------------------------


def _onnx_libraries() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ConfigError(
            f"ONNX export needs onnx and onnxruntime ({exc.name} is not installed): "
            "pip install 'hepsqueeze[onnx]'"
        ) from None
    return onnx, onnxruntime


def _decoder_hash(model: CompressionModel) -> str:
    from hepsqueeze.models.io import decoder_hash

    return decoder_hash(model)


def _onnx_bytes(module: torch.nn.Module, width: int, in_name: str, out_name: str, opset: int) -> bytes:
    """``module`` exported by torch's legacy (TorchScript) exporter: one input and one output, batch dynamic."""
    import torch

    buffer = io.BytesIO()
    example = torch.zeros(2, width, dtype=torch.float32)
    with warnings.catch_warnings():
        for message in _EXPORTER_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        torch.onnx.export(
            module,
            (example,),
            buffer,  # type: ignore[arg-type]  # a stream works (the stubs say paths only)
            dynamo=False,
            input_names=[in_name],
            output_names=[out_name],
            dynamic_axes={in_name: {0: BATCH_AXIS}, out_name: {0: BATCH_AXIS}},
            opset_version=opset,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _with_metadata(onnx_mod: Any, data: bytes, props: Mapping[str, str]) -> bytes:
    proto = onnx_mod.load_from_string(data)
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value
    proto.producer_name = "hepsqueeze"
    proto.producer_version = __version__
    proto.doc_string = (
        f"hepsqueeze {props['part']} of model {props['model_name']!r} ({props['io']} values; "
        "see metadata_props)"
    )
    return bytes(proto.SerializeToString())


def _check_batch(
    model: CompressionModel, given: npt.NDArray[Any] | None, seed: int
) -> npt.NDArray[np.float32]:
    """Physical float32 rows to check with: ``given`` (validated) or rows drawn in normalised units."""
    if given is not None:
        x = np.asarray(given)
        if x.dtype.kind not in "fiu":
            raise InputError(f"check inputs must be numbers, got dtype {x.dtype}")
        x = x.astype(np.float32)
        model.validate_input(x)
        if len(x) == 0:
            raise InputError("check inputs hold no rows")
        return x
    rng = np.random.default_rng(seed)
    y = rng.uniform(*CHECK_RANGE, size=(CHECK_ROWS, len(model.variables)))
    with np.errstate(over="ignore", invalid="ignore"):
        x = model.denormalise(y)
    for name in model.integer_variables:
        j = model.variables.index(name)
        x[:, j] = np.rint(x[:, j])
    # a logged variable may round onto its log's edge in float32: keep the rows encode accepts
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ok = np.isfinite(x).all(axis=1) & np.isfinite(model.normalise(x)).all(axis=1)
    return np.ascontiguousarray(x[ok])


def _run(sess: Any, data: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
    """onnxruntime's outputs for the whole batch and for its first rows alone at each of
    :data:`CHECK_BATCHES` (the dynamic batch axis), whole batch first."""
    name = sess.get_inputs()[0].name
    sizes = [len(data), *(n for n in CHECK_BATCHES if n < len(data))]
    return [np.asarray(sess.run(None, {name: data[:n]})[0]) for n in sizes]


def _torch(fn: Any, data: npt.NDArray[np.float32], width: int) -> npt.NDArray[np.float32]:
    import torch

    out = np.empty((len(data), width), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(data), EVAL_BATCH):
            chunk = torch.from_numpy(np.ascontiguousarray(data[start : start + EVAL_BATCH]))
            out[start : start + len(chunk)] = fn(chunk).cpu().numpy()
    return out


def _load_checked(tmp: Path, published: Path, want_in: str, want_out: str, width: int) -> Any:
    """onnx.checker on the written file, its interface, then an onnxruntime session of it."""
    onnx_mod, _ = _onnx_libraries()
    try:
        onnx_mod.checker.check_model(os.fspath(tmp), full_check=True)
        proto = onnx_mod.load(os.fspath(tmp))
    except Exception as exc:  # the checker's ValidationError, protobuf's DecodeError
        raise VerificationError(f"{published}: onnx.checker refused the exported graph: {exc}") from None
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    if inputs != [want_in] or outputs != [want_out]:
        raise VerificationError(
            f"{published}: graph takes {inputs} and gives {outputs}, not {want_in} -> {want_out}"
        )
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 2 or dims[0].dim_param != BATCH_AXIS or dims[1].dim_value != width:
        raise VerificationError(f"{published}: input shape is not ({BATCH_AXIS}, {width})")
    return session(tmp)


def _check_encoder(
    model: CompressionModel,
    *,
    tmp: Path,
    published: Path,
    x: npt.NDArray[np.float32],
    physical: bool,
    tol: float,
) -> tuple[tuple[float, float], npt.NDArray[np.float32]]:
    """Latents from onnxruntime vs torch (``model.encode``): the largest absolute difference and
    error (see :func:`scaled_error`), and torch's latents."""
    in_name, latent_name = io_names(physical)
    sess = _load_checked(tmp, published, in_name, latent_name, len(model.variables))
    z_ref = model.encode(x)
    feed = x if physical else model.normalise(x)
    measured = _worst([_differences(z, z_ref[: len(z)], published) for z in _run(sess, feed)], z_ref)
    if not measured[1] <= tol:
        raise VerificationError(
            f"{published}: onnxruntime's latents differ from torch's by up to {measured[0]:.3g} "
            f"(error {measured[1]:.3g} > {tol:g}); nothing was written"
        )
    return measured, z_ref


def _check_decoder(
    model: CompressionModel,
    *,
    tmp: Path,
    published: Path,
    z: npt.NDArray[np.float32],
    physical: bool,
    tol: float,
) -> tuple[float, float]:
    """Outputs from onnxruntime vs torch, in normalised units: the largest absolute difference and error."""
    out_name, latent_name = io_names(physical)
    sess = _load_checked(tmp, published, latent_name, out_name, model.latent_dim)
    y_ref = _torch(model.network.decode, z, len(model.variables))
    with np.errstate(over="ignore"):  # a value beyond float32 is inf in both
        x_ref = model.normaliser.inverse(y_ref) if physical else y_ref
    diffs = []
    for got in _run(sess, z):
        part = x_ref[: len(got)]
        diffs.append(
            physical_difference(model, got, part) if physical else _differences(got, part, published)
        )
    measured = _worst(diffs, y_ref)
    if not measured[1] <= tol:
        raise VerificationError(
            f"{published}: onnxruntime's decoded values differ from torch's by up to {measured[0]:.3g} "
            f"in normalised units (error {measured[1]:.3g} > {tol:g}); nothing was written"
        )
    return measured


def scaled_error(diff: npt.NDArray[np.float64], reference: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """``diff / max(1, |reference|)``: absolute where the reference value is within +-1 (normalised
    values, latents near zero), relative beyond, where float32 itself spaces values wider than 1e-7."""
    scale = np.maximum(1.0, np.abs(np.asarray(reference, dtype=np.float64)))
    return np.where(np.isfinite(scale), diff / scale, np.where(diff == 0, 0.0, math.inf))


def _worst(diffs: list[npt.NDArray[np.float64]], reference: npt.NDArray[Any]) -> tuple[float, float]:
    """The largest absolute difference and the largest :func:`scaled_error` over every run."""
    worst_abs = worst_err = 0.0
    for d in diffs:
        worst_abs = max(worst_abs, float(d.max(initial=0.0)))
        worst_err = max(worst_err, float(scaled_error(d, reference[: len(d)]).max(initial=0.0)))
    return worst_abs, worst_err


def _differences(
    got: npt.NDArray[Any], reference: npt.NDArray[Any], where: object
) -> npt.NDArray[np.float64]:
    """``|got - reference|`` in float64; equal values (NaN with NaN, inf with inf) differ by 0, NaN
    against a number by inf."""
    if got.shape != reference.shape:
        raise VerificationError(f"{where}: onnxruntime gives shape {got.shape}, torch {reference.shape}")
    g = got.astype(np.float64)
    r = reference.astype(np.float64)
    same = (g == r) | (np.isnan(g) & np.isnan(r))
    with np.errstate(invalid="ignore"):
        d = np.abs(g - r)
    return np.where(same, 0.0, _nan_to_inf(d))


def _nan_to_inf(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.where(np.isnan(values), math.inf, values)


def physical_difference(
    model: CompressionModel, got: npt.NDArray[Any], reference: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """Differences of decoded physical values ``(rows, variables)``, in normalised units.

    ``reference`` is before integer rounding: an integer variable may round to either integer
    within the tolerance of it (and must be an integer). A difference of two float32 spacings of
    the reference is free (a float32 output cannot do better); the rest is divided by ``dx/dy`` of
    the variable's normalisation (``scale``, or ``scale * ln 10 * (x + offset)`` for a logged one).
    """
    d = _differences(got, reference, "decoded values")
    out = np.empty_like(d)
    for j, t in enumerate(model.normaliser.transforms):
        col = d[:, j]
        if model.variables[j] in model.integer_variables:
            whole = np.isnan(got[:, j]) | (got[:, j] == np.rint(got[:, j]))
            col = np.where(whole, np.maximum(col - 0.5, 0.0), math.inf)
        ref = reference[:, j].astype(np.float64)
        with np.errstate(invalid="ignore"):
            free = 2 * np.nan_to_num(np.spacing(np.abs(reference[:, j])), nan=0.0, posinf=0.0)
        col = np.where(col == 0, 0.0, np.maximum(col - free.astype(np.float64), 0.0))
        slope = abs(t.scale) * (_LN10 * np.abs(ref + t.log_offset) if t.log else 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, j] = np.where(col == 0, 0.0, _nan_to_inf(col / slope))
    return out


__all__ = [
    "DEFAULT_OPSET",
    "FORMAT",
    "TOLERANCE",
    "OnnxExport",
    "PartCheck",
    "check_onnx",
    "export_modules",
    "export_onnx",
    "io_names",
    "metadata",
    "onnx_paths",
    "physical_difference",
    "read_metadata",
    "require_autoencoder",
    "scaled_error",
    "session",
]

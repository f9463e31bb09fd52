"""A learned conditional model of a table's columns, for the error-bounded codec.

The model's columns are coded in its order. Each *target* column (a float column quantised by the
codec) has a small integer network (:mod:`~hepsqueeze.models.conditional.intnet`) that sees every
column before it, and predicts the location of the column's value (in the codec's domain: the value
for an absolute bound, ``ln|x|`` for a relative one) and the scale class of its residual; the
column's learned residual shape (:mod:`~hepsqueeze.models.conditional.shape`) turns the class into
the coder's table. A column before a target is one of its inputs as two numbers: its value
normalised by the model's mean and std in fixed point (``rint(z * INPUT_SCALE)``), and a presence
flag (``INPUT_SCALE`` when the file holds the column coded in the model's domain, else 0; then the
value is 0 too), so a model codes any file holding a subset of its columns.

Inputs come from what the decoder has before it decodes a column: the quantisation symbols of
coded columns (``symbol * step``) and the values of integer columns, with float64 additions,
multiplications and divisions only; outputs from integer sums times a stored float64 factor. So
the predictions are the same bits on every machine.

A model file is a hepsqueeze container (kind ``hepsqueeze-conditional-model``): the JSON header
describes the columns and layers, ``weight`` sections hold the integer arrays and the residual
shapes (``TARGET/shape``). Nothing is executed; sizes are checked before anything is allocated.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hepsqueeze.container import ContainerReader, ContainerWriter, container_bytes, write_container
from hepsqueeze.errors import ContainerError, InputFileNotFoundError, ModelError
from hepsqueeze.models.conditional.intnet import INPUT_MAX, Backend, IntLayer, IntMLP
from hepsqueeze.models.conditional.shape import GRID, SCALE_CLASSES, SCALES_PER_OCTAVE, check_cdf, class_table

MODEL_KIND: Final = "hepsqueeze-conditional-model"
MODEL_FORMAT: Final = 1
#: Fixed-point units of a normalised input (1 / INPUT_SCALE of a standard deviation).
INPUT_SCALE: Final = 128
#: Most columns, layers and hidden units a model file may describe (checked before building it).
MAX_COLUMNS: Final = 256
MAX_LAYERS: Final = 6
MAX_WIDTH: Final = 1024
#: A residual shape is stored as integers: its values times SHAPE_ONE (exact in float64).
SHAPE_ONE: Final = float(1 << 32)
#: The predicted log2 scale is clipped to +-MAX_LOG2_SCALE (in standard deviations).
MAX_LOG2_SCALE: Final = 30.0

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Domain(StrEnum):
    """What a column's model value is: the value (absolute bounds), ``ln|x|`` (relative bounds),
    or an integer column's value."""

    LINEAR = "linear"
    LOG = "log"
    INTEGER = "integer"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a model: name, domain, the mean and std that normalise it, and whether the
    model predicts it (``target``)."""

    name: str
    domain: Domain
    mean: float
    std: float
    target: bool

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 256:
            raise ModelError(f"invalid column name {self.name[:40]!r}")
        if not (np.isfinite(self.mean) and np.isfinite(self.std) and self.std > 0):
            raise ModelError(f"column {self.name!r}: mean and std must be finite, std > 0")

    def feature(self, values: F64) -> npt.NDArray[np.int64]:
        """The fixed-point input of this column from its domain values (float64): ``rint(z *
        INPUT_SCALE)`` clipped to the networks' input range, 0 where not finite."""
        with np.errstate(invalid="ignore", over="ignore"):
            z = (values - self.mean) / self.std * INPUT_SCALE
            z[~np.isfinite(z)] = 0.0
            np.rint(z, out=z)
            np.clip(z, -INPUT_MAX, INPUT_MAX, out=z)
        return z.astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "domain": self.domain.value,
            "mean": self.mean,
            "std": self.std,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> ColumnSpec:
        try:
            return cls(
                str(raw["name"]),
                Domain(raw["domain"]),
                float(raw["mean"]),
                float(raw["std"]),
                bool(raw["target"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid model column {str(raw)[:80]}: {exc}") from None


@dataclass(frozen=True)
class Prediction:
    """A target's predictions for every row: ``location`` in the column's domain and ``log2_scale``
    (log2 of the residual's scale in standard deviations of the column)."""

    location: F64
    log2_scale: F64


@dataclass(frozen=True, eq=False)
class ConditionalModel:
    """Columns in coding order, the network and residual shape of every target, and metadata
    (``training``: what it was trained on and how)."""

    name: str
    columns: tuple[ColumnSpec, ...]
    nets: Mapping[str, IntMLP]
    output_scale: Mapping[str, F64]
    shapes: Mapping[str, F64]
    training: Mapping[str, Any] = field(default_factory=dict)
    _tables: dict[tuple[str, int], tuple[F64, int, int]] = field(default_factory=dict, repr=False)
    _coders: dict[tuple[str, int], tuple[Any, int, int]] = field(default_factory=dict, repr=False)
    _nets: dict[tuple[str, tuple[bool, ...]], IntMLP] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if not names or len(names) > MAX_COLUMNS or len(set(names)) != len(names):
            raise ModelError(f"a model needs 1..{MAX_COLUMNS} distinct columns")
        targets = [c.name for c in self.columns if c.target]
        if (
            set(self.nets) != set(targets)
            or set(self.shapes) != set(targets)
            or set(self.output_scale) != set(targets)
        ):
            raise ModelError("a model needs a network, an output scale and a residual shape for every target")
        for i, c in enumerate(self.columns):
            if not c.target:
                continue
            net = self.nets[c.name]
            if net.fan_in != 2 * i or net.outputs != 2:
                raise ModelError(
                    f"target {c.name!r}: its network takes {net.fan_in} inputs and gives {net.outputs}, "
                    f"expected {2 * i} and 2"
                )
            scale = self.output_scale[c.name]
            if (
                scale.dtype != np.float64
                or scale.shape != (2,)
                or not (np.isfinite(scale).all() and (scale > 0).all())
            ):
                raise ModelError(f"target {c.name!r}: invalid output scale")
            check_cdf(self.shapes[c.name], c.name)

    # -- inference -----------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def index(self, name: str) -> int:
        """The position of column ``name`` in the model's order; :class:`ModelError` if it has none."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ModelError(f"model {self.name!r} has no column {name!r}") from None

    def spec(self, name: str) -> ColumnSpec:
        return self.columns[self.index(name)]

    def inputs(self, rows: int) -> Inputs:
        """An empty input matrix for ``rows`` rows (every column absent)."""
        return Inputs(self, rows)

    def predict(self, target: str, inputs: Inputs, backend: Backend = "numpy") -> Prediction:
        """The predictions for ``target`` from the columns set in ``inputs`` before it (the others
        are absent)."""
        i = self.index(target)
        spec = self.columns[i]
        if not spec.target:
            raise ModelError(f"column {target!r} is not a target of model {self.name!r}")
        if inputs.model is not self:
            raise ModelError("the inputs were made for another model")
        flags = tuple(c.name in inputs.present for c in self.columns[:i])
        out = self._folded(target, flags)(inputs.matrix[:, :i], backend).astype(np.float64)
        scale = self.output_scale[target]
        location = out[:, 0] * scale[0] * spec.std + spec.mean
        log2_scale = np.clip(out[:, 1] * scale[1], -MAX_LOG2_SCALE, MAX_LOG2_SCALE)
        return Prediction(location, log2_scale)

    def _folded(self, target: str, flags: tuple[bool, ...]) -> IntMLP:
        """``target``'s network with the presence flags of a file's columns folded in (built once)."""
        key = (target, flags)
        found = self._nets.get(key)
        if found is None:
            constant = np.array(flags, dtype=np.int64) * INPUT_SCALE
            found = self.nets[target].with_constant_inputs(constant)
            with self._lock:
                self._nets[key] = found
        return found

    def table(self, target: str, k: int) -> tuple[F64, int, int]:
        """The coding table of scale class ``k`` of ``target`` (see
        :func:`~hepsqueeze.models.conditional.shape.class_table`), built once."""
        key = (target, k)
        found = self._tables.get(key)
        if found is None:
            found = class_table(self.shapes[target], k)
            with self._lock:
                self._tables[key] = found
        return found

    def coder_table(self, target: str, k: int) -> tuple[Any, int, int]:
        """:meth:`table` as constriction's categorical model (built once), radius and split bits."""
        key = (target, k)
        found = self._coders.get(key)
        if found is None:
            import constriction

            p, radius, b = self.table(target, k)
            found = (constriction.stream.model.Categorical(p, perfect=False), radius, b)
            with self._lock:
                self._coders[key] = found
        return found

    @property
    def parameters(self) -> int:
        return sum(net.parameters for net in self.nets.values())

    # -- files ---------------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        return {
            "kind": MODEL_KIND,
            "model_format": MODEL_FORMAT,
            "name": self.name,
            "columns": [c.to_dict() for c in self.columns],
            "layers": {
                t: [[layer.width, layer.fan_in, layer.input_max] for layer in net.layers]
                for t, net in self.nets.items()
            },
            "output_scale": {t: [float(v) for v in s] for t, s in self.output_scale.items()},
            "scale_classes": [SCALE_CLASSES, SCALES_PER_OCTAVE, GRID],
            "training": dict(self.training),
        }

    def _arrays(self) -> list[tuple[str, str, npt.NDArray[Any]]]:
        out: list[tuple[str, str, npt.NDArray[Any]]] = []
        for t in sorted(self.nets):
            for i, layer in enumerate(self.nets[t].layers):
                out.append(("weight", f"{t}/{i}/weight", layer.weight))
                out.append(("weight", f"{t}/{i}/bias", layer.bias))
                if layer.scale is not None:
                    out.append(("weight", f"{t}/{i}/scale", layer.scale))
            out.append(("weight", f"{t}/shape", np.rint(self.shapes[t] * SHAPE_ONE).astype(np.uint32)))
        return out

    @property
    def hash(self) -> str:
        """sha256 (hex) of everything coding depends on: the header without ``training`` and ``name``,
        and every array."""
        h = hashlib.sha256()
        head = self.header()
        del head["training"], head["name"]
        h.update(json.dumps(head, sort_keys=True).encode())
        for kind, name, arr in self._arrays():
            h.update(f"{kind}:{name}:{arr.dtype.str}:{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def _write(self, writer: ContainerWriter) -> None:
        for kind, name, arr in self._arrays():
            delta = name.endswith("/shape")
            writer.add_array(kind, name, arr, encoding="zstd", level=19, transform="delta" if delta else None)

    def to_bytes(self) -> bytes:
        """The model file's bytes (for embedding in a compressed file)."""
        return container_bytes({**self.header(), "sha256": self.hash}, self._write)

    def save(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the model file atomically, after reading it back."""

        def verify(p: Path) -> None:
            if load_conditional_model(p).hash != self.hash:
                raise ModelError(f"model file {str(path)!r} does not read back as written")

        with write_container(
            path, {**self.header(), "sha256": self.hash}, force=force, verify=verify
        ) as writer:
            self._write(writer)
        return Path(path)


class Inputs:
    """The inputs of a model's networks for one table chunk: the fixed-point value of every model
    column (zero until :meth:`set`) and which columns are present (their flags are folded into
    the networks' biases)."""

    def __init__(self, model: ConditionalModel, rows: int) -> None:
        self.model = model
        self.rows = rows
        self.matrix = np.zeros((rows, len(model.columns)), dtype=np.float32)
        self.present: set[str] = set()

    def set(self, name: str, values: F64) -> None:
        """Column ``name`` is known: its domain values (float64, ``rows`` of them)."""
        if values.shape != (self.rows,):
            raise ModelError(f"column {name!r} has {values.shape} values, expected ({self.rows},)")
        j = self.model.index(name)
        self.matrix[:, j] = self.model.columns[j].feature(values)
        self.present.add(name)


def load_conditional_model(path: str | os.PathLike[str]) -> ConditionalModel:
    """Read a model file written by :meth:`ConditionalModel.save`."""
    p = Path(path)
    if not p.exists():
        raise InputFileNotFoundError(f"model file {str(p)!r} does not exist")
    try:
        with ContainerReader.open(p) as reader:
            return _from_reader(reader, str(p))
    except ContainerError as exc:
        raise ModelError(f"model file {str(p)!r} is not a valid conditional model: {exc}") from None


def conditional_model_from_bytes(data: bytes, source: str) -> ConditionalModel:
    """Read a model from its bytes (embedded in a compressed file); ``source`` names it."""
    try:
        with ContainerReader.from_bytes(data, name=source) as reader:
            return _from_reader(reader, source)
    except ContainerError as exc:
        raise ModelError(f"{source}: not a valid conditional model: {exc}") from None


def is_conditional_model(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a readable container of this kind (False for autoencoder model files)."""
    try:
        with ContainerReader.open(path, verify=False) as reader:
            return reader.header.get("kind") == MODEL_KIND
    except (ContainerError, OSError):
        return False


def _layers_of(raw: Any, target: str, fan_in: int, source: str) -> list[tuple[int, int, int]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LAYERS:
        raise ModelError(f"{source}: target {target!r} must have 1..{MAX_LAYERS} layers")
    out: list[tuple[int, int, int]] = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 3 and all(type(v) is int for v in entry)):
            raise ModelError(f"{source}: target {target!r}: invalid layer {str(entry)[:40]}")
        width, fan, top = entry
        if not (0 < width <= MAX_WIDTH and 0 < fan <= 2 * MAX_COLUMNS + MAX_WIDTH and 0 < top <= INPUT_MAX):
            raise ModelError(f"{source}: target {target!r}: layer sizes out of range")
        out.append((width, fan, top))
    if out[0][1] != fan_in:
        raise ModelError(f"{source}: target {target!r} takes {out[0][1]} inputs, expected {fan_in}")
    return out


def _from_reader(reader: ContainerReader, source: str) -> ConditionalModel:
    head = reader.header
    if head.get("kind") != MODEL_KIND:
        raise ModelError(f"{source} is not a conditional model (kind {str(head.get('kind'))[:40]!r})")
    if head.get("model_format") != MODEL_FORMAT:
        raise ModelError(
            f"{source}: model format {head.get('model_format')!r}; this version reads {MODEL_FORMAT}"
        )
    if head.get("scale_classes") != [SCALE_CLASSES, SCALES_PER_OCTAVE, GRID]:
        raise ModelError(f"{source}: scale classes {head.get('scale_classes')!r} are not this version's")
    raw_columns, raw_layers, raw_scale = head.get("columns"), head.get("layers"), head.get("output_scale")
    if not (isinstance(raw_columns, list) and len(raw_columns) <= MAX_COLUMNS):
        raise ModelError(f"{source}: invalid columns")
    if not (isinstance(raw_layers, dict) and isinstance(raw_scale, dict)):
        raise ModelError(f"{source}: invalid layers or output scales")
    columns = tuple(ColumnSpec.from_dict(c) for c in raw_columns)
    arrays = {(s.kind, s.name): s for s in reader.find("weight")}
    nets: dict[str, IntMLP] = {}
    shapes: dict[str, F64] = {}
    scales: dict[str, F64] = {}
    used: set[tuple[str, str]] = set()

    def array(kind: str, name: str, dtype: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
        s = arrays.get((kind, name))
        if s is None:
            raise ModelError(f"{source}: array {name!r} is missing")
        if tuple(s.desc.get("shape", ())) != shape or s.desc.get("dtype") != np.dtype(dtype).str:
            raise ModelError(
                f"{source}: array {name!r} has shape {s.desc.get('shape')} {s.desc.get('dtype')}, "
                f"expected {list(shape)} {dtype}"
            )
        used.add((kind, name))
        out: npt.NDArray[Any] = reader.read_array(s).copy()
        return out

    for i, c in enumerate(columns):
        if not c.target:
            continue
        layers = _layers_of(raw_layers.get(c.name), c.name, 2 * i, source)
        built = []
        for j, (width, fan, top) in enumerate(layers):
            w = array("weight", f"{c.name}/{j}/weight", "<i1", (width, fan))
            b = array("weight", f"{c.name}/{j}/bias", "<i4", (width,))
            m = array("weight", f"{c.name}/{j}/scale", "<f4", (width,)) if j < len(layers) - 1 else None
            built.append(
                IntLayer(
                    w.astype(np.int8), b.astype(np.int32), None if m is None else m.astype(np.float32), top
                )
            )
        nets[c.name] = IntMLP(tuple(built))
        shapes[c.name] = array("weight", f"{c.name}/shape", "<u4", (GRID,)).astype(np.float64) / SHAPE_ONE
        sc = raw_scale.get(c.name)
        if not (isinstance(sc, list) and len(sc) == 2 and all(type(v) is float for v in sc)):
            raise ModelError(f"{source}: target {c.name!r}: invalid output scale")
        scales[c.name] = np.array(sc, dtype=np.float64)
    if set(arrays) - used:
        raise ModelError(f"{source}: unexpected arrays {sorted(n for _, n in set(arrays) - used)[:4]}")
    training = head.get("training", {})
    model = ConditionalModel(
        str(head.get("name", "")),
        columns,
        nets,
        scales,
        shapes,
        training if isinstance(training, dict) else {},
    )
    if head.get("sha256") != model.hash:
        raise ModelError(f"{source}: its sha256 does not match its contents; the file is corrupt")
    return model


def class_offset(std: float, step: float) -> int:
    """The scale-class offset of a column coded with ``step`` whose model std is ``std``:
    class = rint(SCALES_PER_OCTAVE * log2_scale) + offset. Computed by the encoder (``log2`` may
    differ in its last bit between machines) and stored in the payload."""
    from hepsqueeze.models.conditional.shape import MIN_EXPONENT

    # log2 of each, not of their ratio, which may overflow (a subnormal step)
    return round((math.log2(std) - math.log2(step) - MIN_EXPONENT) * SCALES_PER_OCTAVE)


def scale_classes(prediction: Prediction, offset: int) -> npt.NDArray[np.int64]:
    """Each row's scale class given the payload's offset."""
    k = np.rint(prediction.log2_scale * SCALES_PER_OCTAVE) + offset
    out: npt.NDArray[np.int64] = np.clip(k, 0, SCALE_CLASSES - 1).astype(np.int64)
    return out


__all__ = [
    "INPUT_SCALE",
    "MODEL_FORMAT",
    "MODEL_KIND",
    "ColumnSpec",
    "ConditionalModel",
    "Domain",
    "Inputs",
    "Prediction",
    "class_offset",
    "conditional_model_from_bytes",
    "is_conditional_model",
    "load_conditional_model",
    "scale_classes",
]

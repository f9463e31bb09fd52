"""Learned conditional models of a table's columns (models.conditional.model): predictions from
the columns before each target (absent columns allowed), model files that read back with the same
hash and the same predictions bit for bit, and damaged or forged files refused with a ModelError.

(Named test_conditional_model.py, not test_model.py: tests/models/test_model.py exists and the
test folders have no __init__.py, so two test_model modules would clash.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from conditional_helpers import Columns, jet_table
from hepsqueeze.codecs.bounded.precision import parse_precision
from hepsqueeze.codecs.bounded.training import model_columns
from hepsqueeze.container import ContainerReader, ContainerWriter, container_bytes
from hepsqueeze.errors import InputFileNotFoundError, ModelError, OutputExistsError
from hepsqueeze.models.conditional.intnet import HIDDEN_MAX, INPUT_MAX, quantise_layers
from hepsqueeze.models.conditional.model import (
    INPUT_SCALE,
    MODEL_KIND,
    ColumnSpec,
    ConditionalModel,
    Domain,
    Inputs,
    Prediction,
    class_offset,
    conditional_model_from_bytes,
    is_conditional_model,
    load_conditional_model,
    scale_classes,
)
from hepsqueeze.models.conditional.shape import GRID, MIN_EXPONENT, SCALE_CLASSES, class_table, fit_cdf
from hepsqueeze.training.conditional import ColumnData, ConditionalTrainingConfig, train_conditional

F64 = npt.NDArray[np.float64]


#: The model's columns: the table's but tau21 (which the codec codes from its relation).
ORDER = ["n", "pt", "eta", "phi", "m", "width", "tau1", "tau2"]


def training_data(columns: Columns) -> list[ColumnData]:
    prec = parse_precision("1e-3")
    bounds = {n: prec.resolve(n, v.dtype) for n, v in columns.items() if v.dtype.kind == "f"}
    return model_columns(columns, bounds, "event", order=ORDER)


CONFIG = ConditionalTrainingConfig(hidden=16, layers=2, epochs=3, batch=64, learning_rate=1e-2, threads=1)


@pytest.fixture(scope="module")
def data() -> list[ColumnData]:
    return training_data(jet_table(0))


@pytest.fixture(scope="module")
def model(data: list[ColumnData]) -> ConditionalModel:
    return train_conditional(data, CONFIG).model


@pytest.fixture(scope="module")
def model_file(model: ConditionalModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("conditional") / "model.hsqb")


def targets(model: ConditionalModel) -> list[str]:
    return [c.name for c in model.columns if c.target]


def full_inputs(model: ConditionalModel, data: list[ColumnData], skip: tuple[str, ...] = ()) -> Inputs:
    inputs = model.inputs(data[0].decoded.size)
    for c in data:
        if c.name not in skip:
            inputs.set(c.name, c.decoded)
    return inputs


def same_bits(a: F64, b: F64) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool((a.view(np.uint64) == b.view(np.uint64)).all())


def same_predictions(a: Prediction, b: Prediction) -> bool:
    return same_bits(a.location, b.location) and same_bits(a.log2_scale, b.log2_scale)


def all_predictions(
    model: ConditionalModel, data: list[ColumnData], backend: Any = "numpy"
) -> dict[str, Prediction]:
    inputs = full_inputs(model, data)
    return {t: model.predict(t, inputs, backend) for t in targets(model)}


def hand_model(seed: int = 0, name: str = "hand", training: dict[str, Any] | None = None) -> ConditionalModel:
    """A model built by hand: ``a`` (integer context), ``b`` (linear target), ``c`` (log target)."""
    rng = np.random.default_rng(seed)
    columns = (
        ColumnSpec("a", Domain.INTEGER, 3.0, 2.0, False),
        ColumnSpec("b", Domain.LINEAR, 0.5, 0.25, True),
        ColumnSpec("c", Domain.LOG, 1.0, 0.7, True),
    )
    nets, scales, shapes = {}, {}, {}
    for i, c in enumerate(columns):
        if not c.target:
            continue
        ws = [rng.normal(0, 0.5, (8, 2 * i)), rng.normal(0, 0.5, (2, 8))]
        bs = [rng.normal(0, 0.1, 8), rng.normal(0, 0.1, 2)]
        nets[c.name], scales[c.name] = quantise_layers(ws, bs, INPUT_SCALE, HIDDEN_MAX / 6.0)
        shapes[c.name] = fit_cdf(rng.normal(0, 1, 500))
    return ConditionalModel(name, columns, nets, scales, shapes, training or {})


# ----------------------------------------------------------------------------- files


def test_the_trained_model_has_targets_and_contexts(model: ConditionalModel) -> None:
    assert model.names[0] == "n"
    assert model.spec("n").domain == Domain.INTEGER
    assert not model.spec("n").target
    assert "tau2" in targets(model)
    assert len(model.hash) == 64
    assert int(model.hash, 16) >= 0
    assert model.parameters > 0


def test_save_and_load_keep_the_hash_and_the_predictions(
    model: ConditionalModel, model_file: Path, data: list[ColumnData]
) -> None:
    loaded = load_conditional_model(model_file)
    assert loaded.hash == model.hash
    assert loaded.name == model.name
    assert loaded.columns == model.columns
    assert dict(loaded.training) == dict(model.training)
    assert loaded.parameters == model.parameters
    for t in targets(model):
        assert np.array_equal(loaded.shapes[t].view(np.uint64), model.shapes[t].view(np.uint64)), t
        assert np.array_equal(loaded.output_scale[t], model.output_scale[t]), t
    want, got = all_predictions(model, data), all_predictions(loaded, data)
    assert list(got) == list(want)
    for t in want:
        assert same_predictions(got[t], want[t]), t
        assert np.array_equal(loaded.table(t, 20)[0], model.table(t, 20)[0]), t


def test_to_bytes_and_back(model: ConditionalModel, data: list[ColumnData]) -> None:
    raw = model.to_bytes()
    assert raw == model.to_bytes()  # deterministic
    loaded = conditional_model_from_bytes(raw, "embedded")
    assert loaded.hash == model.hash
    assert loaded.to_bytes() == raw
    want, got = all_predictions(model, data), all_predictions(loaded, data)
    for t in want:
        assert same_predictions(got[t], want[t]), t


def test_the_file_holds_the_bytes(model: ConditionalModel, model_file: Path) -> None:
    assert is_conditional_model(model_file)
    with ContainerReader.open(model_file) as reader:
        assert reader.header["kind"] == MODEL_KIND
        assert reader.header["sha256"] == model.hash
    assert conditional_model_from_bytes(model_file.read_bytes(), "file").hash == model.hash


def test_the_hash_ignores_name_and_training_only() -> None:
    a = hand_model(0, "one", {"rows": 1})
    b = hand_model(0, "two", {"rows": 2, "note": "other"})
    c = hand_model(1)
    assert a.hash == b.hash
    assert a.hash != c.hash
    assert a.to_bytes() != b.to_bytes()
    assert conditional_model_from_bytes(b.to_bytes(), "b").name == "two"


def test_save_refuses_to_overwrite_unless_forced(model: ConditionalModel, tmp_path: Path) -> None:
    path = model.save(tmp_path / "m.hsqb")
    assert path == tmp_path / "m.hsqb"
    with pytest.raises(OutputExistsError):
        hand_model().save(path)
    assert load_conditional_model(path).hash == model.hash
    hand_model().save(path, force=True)
    assert load_conditional_model(path).hash == hand_model().hash


def test_a_flipped_byte_is_refused(model_file: Path, tmp_path: Path) -> None:
    """A byte damaged anywhere (header, arrays, checksums): a ModelError (the loader turns the
    container's errors into ModelErrors), never a model."""
    raw = model_file.read_bytes()
    positions = sorted({*range(300), *range(300, len(raw), 29), len(raw) - 1})
    for i in positions:
        damaged = bytearray(raw)
        damaged[i] ^= 0xFF if i % 2 else 0x01
        with pytest.raises(ModelError, match="not a valid conditional model"):
            conditional_model_from_bytes(bytes(damaged), "damaged")
    bad = tmp_path / "damaged.hsqb"
    for i in (0, len(raw) // 3, len(raw) // 2, len(raw) - 5):
        damaged = bytearray(raw)
        damaged[i] ^= 0x10
        bad.write_bytes(bytes(damaged))
        with pytest.raises(ModelError, match=r"damaged\.hsqb"):
            load_conditional_model(bad)


def test_a_truncated_file_is_refused(model_file: Path, tmp_path: Path) -> None:
    raw = model_file.read_bytes()
    for size in (0, 1, 8, 100, len(raw) // 2, len(raw) - 1):
        with pytest.raises(ModelError):
            conditional_model_from_bytes(raw[:size], "truncated")
    bad = tmp_path / "short.hsqb"
    bad.write_bytes(raw[:-3])
    with pytest.raises(ModelError, match="not a valid conditional model"):
        load_conditional_model(bad)


def rewrite(raw: bytes, header: dict[str, Any] | None = None, change: str | None = None) -> bytes:
    """The model bytes rewritten as a valid container: its header replaced by ``header``, the
    array ``change`` altered (one value); every section checksummed anew."""
    with ContainerReader.from_bytes(raw) as reader:
        head = dict(reader.header)
        arrays = [(s.kind, s.name, reader.read_array(s).copy(), s.transform) for s in reader.find("weight")]

    def build(writer: ContainerWriter) -> None:
        for kind, name, arr, transform in arrays:
            if name == change:
                arr.reshape(-1)[0] = arr.reshape(-1)[0] // 2 + 1
            writer.add_array(kind, name, arr, encoding="zstd", transform=transform)

    return container_bytes(header if header is not None else head, build)


def test_a_header_sha256_that_does_not_match_is_refused(model: ConditionalModel) -> None:
    raw = model.to_bytes()
    assert conditional_model_from_bytes(rewrite(raw), "copy").hash == model.hash  # the rewrite is faithful
    with ContainerReader.from_bytes(raw) as reader:
        head = dict(reader.header)
    forged = rewrite(raw, {**head, "sha256": "0" * 64})
    with pytest.raises(ModelError, match="sha256 does not match"):
        conditional_model_from_bytes(forged, "forged")
    t = targets(model)[0]
    for name in (f"{t}/0/weight", f"{t}/0/bias", f"{t}/0/scale", f"{t}/shape"):
        with pytest.raises(ModelError, match="sha256 does not match"):
            conditional_model_from_bytes(rewrite(raw, change=name), name)
    # a header changed where the hash looks (the columns' statistics)
    columns = [dict(c) for c in head["columns"]]
    columns[0]["std"] = columns[0]["std"] * 2
    with pytest.raises(ModelError, match="sha256 does not match"):
        conditional_model_from_bytes(rewrite(raw, {**head, "columns": columns}), "stats")


@pytest.mark.parametrize(
    "edit",
    [
        {"kind": "hepsqueeze-model"},
        {"model_format": 2},
        {"scale_classes": [SCALE_CLASSES + 1, 4, GRID]},
        {"columns": "n"},
        {"layers": []},
        {"output_scale": {}},
    ],
)
def test_headers_of_another_kind_or_version_are_refused(
    model: ConditionalModel, edit: dict[str, Any]
) -> None:
    raw = model.to_bytes()
    with ContainerReader.from_bytes(raw) as reader:
        head = dict(reader.header)
    with pytest.raises(ModelError):
        conditional_model_from_bytes(rewrite(raw, {**head, **edit}), "edited")


def test_missing_and_unexpected_arrays_are_refused(model: ConditionalModel) -> None:
    raw = model.to_bytes()
    with ContainerReader.from_bytes(raw) as reader:
        head = dict(reader.header)
        arrays = [(s.name, reader.read_array(s).copy()) for s in reader.find("weight")]

    def without_first(writer: ContainerWriter) -> None:
        for name, arr in arrays[1:]:
            writer.add_array("weight", name, arr)

    with pytest.raises(ModelError, match="missing"):
        conditional_model_from_bytes(container_bytes(head, without_first), "fewer")

    def with_extra(writer: ContainerWriter) -> None:
        for name, arr in arrays:
            writer.add_array("weight", name, arr)
        writer.add_array("weight", "extra/0/weight", np.zeros((2, 2), np.int8))

    with pytest.raises(ModelError, match="unexpected arrays"):
        conditional_model_from_bytes(container_bytes(head, with_extra), "more")


def test_is_conditional_model(model_file: Path, tmp_path: Path) -> None:
    assert is_conditional_model(model_file)
    assert is_conditional_model(str(model_file))
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    empty = tmp_path / "empty.hsqb"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.hsqb"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    other = tmp_path / "other.hsqb"
    other.write_bytes(container_bytes({"kind": "hepsqueeze-model"}, lambda w: None))
    for path in (text, empty, noise, other, tmp_path / "missing.hsqb", tmp_path):
        assert not is_conditional_model(path), path
    with pytest.raises(ModelError, match="not a conditional model"):
        load_conditional_model(other)
    with pytest.raises(ModelError):
        load_conditional_model(text)


def test_loading_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="does not exist"):
        load_conditional_model(tmp_path / "missing.hsqb")


# ----------------------------------------------------------------------------- inference


@pytest.mark.parametrize("shape", [(99,), (101,), (0,), (100, 1), ()])
def test_inputs_set_refuses_a_wrong_length(model: ConditionalModel, shape: tuple[int, ...]) -> None:
    inputs = model.inputs(100)
    with pytest.raises(ModelError, match="expected \\(100,\\)"):
        inputs.set("pt", np.zeros(shape))
    assert inputs.present == set()
    inputs.set("pt", np.zeros(100))
    assert inputs.present == {"pt"}


def test_predict_refuses_a_column_that_is_not_a_target(model: ConditionalModel) -> None:
    inputs = model.inputs(10)
    with pytest.raises(ModelError, match="'n' is not a target"):
        model.predict("n", inputs)
    for c in model.columns:
        if not c.target:
            with pytest.raises(ModelError, match="not a target"):
                model.predict(c.name, inputs)


def test_unknown_columns_are_refused_with_a_model_error(model: ConditionalModel) -> None:
    inputs = model.inputs(10)
    with pytest.raises(ModelError, match="nonexistent"):
        model.predict("nonexistent", inputs)
    with pytest.raises(ModelError, match="nonexistent"):
        inputs.set("nonexistent", np.zeros(10))


def test_predict_refuses_inputs_of_another_model(model: ConditionalModel, model_file: Path) -> None:
    twin = load_conditional_model(model_file)  # the same contents, another model object
    t = targets(model)[0]
    with pytest.raises(ModelError, match="another model"):
        model.predict(t, twin.inputs(10))
    with pytest.raises(ModelError, match="another model"):
        twin.predict(t, model.inputs(10))
    assert model.predict(t, model.inputs(10)).location.shape == (10,)


def test_an_absent_column_changes_the_predictions(model: ConditionalModel, data: list[ColumnData]) -> None:
    """``tau2`` depends on ``tau1``: without ``tau1`` the predictions are still finite, but others."""
    present = model.predict("tau2", full_inputs(model, data))
    absent = model.predict("tau2", full_inputs(model, data, skip=("tau1",)))
    nothing = model.predict("tau2", model.inputs(data[0].decoded.size))
    for p in (present, absent, nothing):
        assert np.isfinite(p.location).all()
        assert np.isfinite(p.log2_scale).all()
    assert not np.array_equal(present.location, absent.location)
    assert not np.array_equal(present.log2_scale, absent.log2_scale)
    # with every input absent, every row gets the same prediction
    assert np.unique(nothing.location).size == 1
    # with tau1, the predictions are better: closer to the true values
    tau2 = next(c for c in data if c.name == "tau2")
    assert tau2.exact is not None
    err_present = np.nanmean(np.abs(present.location - tau2.exact))
    err_absent = np.nanmean(np.abs(absent.location - tau2.exact))
    assert err_present < 0.8 * err_absent


def test_predictions_do_not_depend_on_later_columns(model: ConditionalModel, data: list[ColumnData]) -> None:
    for t in targets(model):
        i = model.index(t)
        before = full_inputs(model, data[:i])
        everything = full_inputs(model, data)
        assert same_predictions(model.predict(t, before), model.predict(t, everything)), t


def test_an_absent_column_is_not_a_zero_valued_one(model: ConditionalModel, data: list[ColumnData]) -> None:
    """A column set to its mean (fixed-point value 0) is present: its flag counts."""
    rows = data[0].decoded.size
    at_mean = full_inputs(model, data, skip=("tau1",))
    at_mean.set("tau1", np.full(rows, model.spec("tau1").mean))
    absent = full_inputs(model, data, skip=("tau1",))
    assert not np.array_equal(at_mean.matrix, absent.matrix) or at_mean.present != absent.present
    a, b = model.predict("tau2", at_mean), model.predict("tau2", absent)
    assert not np.array_equal(a.location, b.location)


def test_torch_predictions_are_the_same_bits(model: ConditionalModel, data: list[ColumnData]) -> None:
    want, got = all_predictions(model, data), all_predictions(model, data, "torch")
    for t in want:
        assert same_predictions(got[t], want[t]), t


def test_predictions_are_the_same_each_time(model: ConditionalModel, data: list[ColumnData]) -> None:
    first, again = all_predictions(model, data), all_predictions(model, data)
    for t in first:
        assert same_predictions(first[t], again[t]), t
    # in any number of rows: row i's prediction does not depend on the other rows
    t = "tau2"
    few = model.inputs(7)
    for c in data:
        few.set(c.name, c.decoded[100:107])
    part = model.predict(t, few)
    assert same_bits(part.location, first[t].location[100:107])
    assert same_bits(part.log2_scale, first[t].log2_scale[100:107])


def test_tables_are_built_once_from_the_shape(model: ConditionalModel) -> None:
    t = targets(model)[0]
    for k in (0, 30, SCALE_CLASSES - 1):
        p, radius, b = model.table(t, k)
        want = class_table(model.shapes[t], k)
        assert np.array_equal(p, want[0])
        assert (radius, b) == want[1:]
        assert model.table(t, k)[0] is p
        coder, r2, b2 = model.coder_table(t, k)
        assert (r2, b2) == (radius, b)
        assert model.coder_table(t, k)[0] is coder


# ----------------------------------------------------------------------------- scale classes


def test_class_offset_and_scale_classes() -> None:
    # a std of 8 steps is class 0 at log2_scale -6 (2**-3 bins) and class 24 at 0 (8 bins)
    assert class_offset(8.0, 1.0) == (3 - MIN_EXPONENT) * 4
    assert class_offset(1.0, 1.0) == -MIN_EXPONENT * 4
    assert class_offset(0.5, 2.0) == (-2 - MIN_EXPONENT) * 4
    p = Prediction(np.zeros(6), np.array([-100.0, -6.0, 0.0, 0.125, 0.126, 100.0]))
    k = scale_classes(p, 24)
    assert k.dtype == np.int64
    assert list(k) == [0, 0, 24, 24, 25, SCALE_CLASSES - 1]  # 0.5 rounds to even
    assert list(scale_classes(p, -1000)) == [0] * 6
    assert list(scale_classes(p, 1000)) == [SCALE_CLASSES - 1] * 6


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "args",
    [
        ("", Domain.LINEAR, 0.0, 1.0, True),
        ("x" * 257, Domain.LINEAR, 0.0, 1.0, True),
        ("x", Domain.LINEAR, 0.0, 0.0, True),
        ("x", Domain.LINEAR, 0.0, -1.0, True),
        ("x", Domain.LINEAR, np.nan, 1.0, True),
        ("x", Domain.LINEAR, 0.0, np.inf, True),
    ],
)
def test_invalid_column_specs_are_refused(args: tuple[str, Domain, float, float, bool]) -> None:
    with pytest.raises(ModelError):
        ColumnSpec(*args)


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "x", "domain": "cubic", "mean": 0.0, "std": 1.0, "target": True},
        {"name": "x", "domain": "linear", "mean": 0.0, "target": True},
        {"name": "x", "domain": "linear", "mean": "a", "std": 1.0, "target": True},
        ["x", "linear", 0.0, 1.0, True],
        None,
    ],
)
def test_invalid_column_dicts_are_refused(raw: Any) -> None:
    with pytest.raises(ModelError, match="invalid model column"):
        ColumnSpec.from_dict(raw)


def test_column_spec_round_trip_and_features() -> None:
    spec = ColumnSpec("x", Domain.LOG, 1.0, 0.5, True)
    assert ColumnSpec.from_dict(spec.to_dict()) == spec
    f = spec.feature(np.array([1.0, 1.5, 0.5, 1.0 + 1 / 256, 1e9, -1e9, np.nan, np.inf, -np.inf]))
    assert f.dtype == np.int64
    assert list(f) == [0, 128, -128, 1, INPUT_MAX, -INPUT_MAX, 0, 0, 0]


def test_model_refusals() -> None:
    good = hand_model()
    cols, nets = good.columns, dict(good.nets)
    scales, shapes = dict(good.output_scale), dict(good.shapes)
    with pytest.raises(ModelError, match="distinct columns"):
        ConditionalModel("m", (), {}, {}, {})
    with pytest.raises(ModelError, match="distinct columns"):
        ConditionalModel("m", (cols[0], cols[0]), {}, {}, {})
    with pytest.raises(ModelError, match="every target"):
        ConditionalModel("m", cols, {"b": nets["b"]}, scales, shapes)
    with pytest.raises(ModelError, match="every target"):
        ConditionalModel("m", cols, nets, scales, {"b": shapes["b"]})
    with pytest.raises(ModelError, match="expected 2 and 2"):  # b's network given c's
        ConditionalModel("m", cols, {"b": nets["c"], "c": nets["c"]}, scales, shapes)
    for bad in (np.array([1.0, 0.0]), np.array([1.0]), np.array([1.0, np.nan]), np.array([1, 1], np.float32)):
        with pytest.raises(ModelError, match="output scale"):
            ConditionalModel("m", cols, nets, {**scales, "b": bad}, shapes)  # type: ignore[dict-item]
    flat = np.full(GRID, 0.5)
    with pytest.raises(ModelError, match="distribution function"):
        ConditionalModel("m", cols, nets, scales, {**shapes, "c": flat})
    # the columns reordered: c's network no longer has c's fan-in
    with pytest.raises(ModelError, match="expected 2 and 2"):
        ConditionalModel("m", (cols[0], cols[2], cols[1]), nets, scales, shapes)
    assert ConditionalModel("m", cols, nets, scales, shapes).hash == good.hash

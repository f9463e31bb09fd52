"""Make the golden files in ``tests/golden/data`` (see ``data/README.md`` for what each one is).

Every step runs with the hepsqueeze code that is to write its files: a worktree of the commit where
that data format was the newest written, put first on the path. From the repository root::

    git worktree add --detach /tmp/golden-1 e98392b     # data format 1 newest; model format 1
    git worktree add --detach /tmp/golden-2 0b481ca     # data format 2
    git worktree add --detach /tmp/golden-3 31c7503     # data format 3
    git worktree add --detach /tmp/golden-4 160e832     # data format 4 (payload format 2)
    git worktree add --detach /tmp/golden-now <commit>  # today's writer (formats 1, 2, 3, 5, 7)
    run() { PYTHONPATH=$1/src .venv/bin/python tests/golden/make_golden.py "${@:2}"; }
    run /tmp/golden-1 model            # the model file, trained briefly on seeded jets
    run /tmp/golden-now inputs         # the inputs, in the model's training range where they must be
    run /tmp/golden-now inputs6        # the input of data format 6 (its own seed; 6 is written no more)
    run /tmp/golden-now inputs7        # the input of data format 7 and its conditional model (own seed)
    run /tmp/golden-1 write 1          # format1_e98392b.hsqz
    run /tmp/golden-2 write 2          # input_darkmachines.npz (the CSV as read there), format2_0b481ca.hsqz
    run /tmp/golden-3 write 3          # format3_31c7503.hsqz
    run /tmp/golden-4 write 4          # format4_160e832.hsqz
    run /tmp/golden-now current        # format{1,2,3,5,7}_<commit>.hsqz, with test_golden's writers
    run /tmp/golden-now expected       # *_expected.npz: what today's reader decodes
    run /tmp/golden-now expected format7_<commit>.hsqz  # ... of the named files only
    run /tmp/golden-1 check 1          # the old code decodes its file to the same values
    run /tmp/golden-2 check 2; run /tmp/golden-3 check 3; run /tmp/golden-4 check 4
    git worktree remove /tmp/golden-1  # ... and the others

A new data format adds a ``write`` case here (or a ``current`` one, for today's writer), its file,
inputs and expected values (``expected FILE``: that file's alone), and a row in ``test_golden.py``
and ``data/README.md``. Files of older formats are never regenerated: they are what older versions
wrote. The format-6 file was written by ``current`` at ``1e6dd7a``, when 6 was today's format of the
codec of every column; today's writer writes 7 instead, so that file is only read now.

Not collected by pytest (no ``test_`` prefix); ``test_golden`` imports its input helpers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DATA = Path(__file__).resolve().parent / "data"
VARIABLES = ("E", "pt", "eta", "phi")
#: The model: small enough to embed in every file (a few kB), with BatchNorm layers so that the
#: model format's running statistics and int64 ``num_batches_tracked`` are covered.
MODEL_NODES = (4, 24, 12, 3, 12, 24, 4)
#: Relative margin inside the model's normalised [0, 1] range for inputs that must hold no exception.
RANGE_MARGIN = 0.02
#: The commit of the writer of each data format's old file, and whose code wrote today's files.
OLD_WRITERS = {1: "e98392b", 2: "0b481ca", 3: "31c7503", 4: "160e832"}
CURRENT_FORMATS = (1, 2, 3, 5, 7)
#: Bounds of the bounded golden files: 1e-3 relative on E and pt, absolute on eta and phi.
BOUNDED_MAX_ERROR = "1e-3"
#: Bounds the golden file of data format 6 was written at (``current`` at ``1e6dd7a``, with
#: ``hepsqueeze.compress(dataset, out, max_error=COLUMNS_MAX_ERROR)``), by column name;
#: ``Jet_raw`` is named by no term (stored losslessly). Today's writer writes format 7 instead.
COLUMNS_MAX_ERROR = "*_pt=1e-3r,*_mass=1e-3r,*_eta=1e-3,*_phi=1e-3,Jet_tau*=1e-3"
#: Bounds of the format-7 file (and of its model's training): 1e-3 relative on E, pt and m,
#: absolute on the other float columns.
COLUMNS7_MAX_ERROR = "1e-3"
#: The conditional model of the format-7 file (trained once by ``inputs7``, committed as data).
CONDITIONAL7 = "conditional7.hsqb"


# --------------------------------------------------------------------------------------------------
# Datasets as npz: ``table/<column>``, ``aux/<table>/<column>`` and ``layout`` (JSON text)


def dataset_arrays(table: Any, aux: Any = None, layout: Any = None) -> dict[str, npt.NDArray[Any]]:
    """The arrays of a dataset's ``table``, ``aux`` tables and ``layout``, for :func:`numpy.savez`."""
    out: dict[str, npt.NDArray[Any]] = {f"table/{n}": np.asarray(table[n]) for n in table.names}
    for tname, t in dict(aux or {}).items():
        out.update({f"aux/{tname}/{n}": np.asarray(t[n]) for n in t.names})
    out["layout"] = np.array(json.dumps(dict(layout or {})))
    return out


def read_arrays(
    path: Path,
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, dict[str, npt.NDArray[Any]]], Any]:
    """The main table's columns, the auxiliary tables' columns and the layout stored by :func:`save_dataset`."""
    main: dict[str, npt.NDArray[Any]] = {}
    aux: dict[str, dict[str, npt.NDArray[Any]]] = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            kind, _, rest = key.partition("/")
            if kind == "table":
                main[rest] = npz[key]
            elif kind == "aux":
                tname, _, col = rest.partition("/")
                aux.setdefault(tname, {})[col] = npz[key]
        layout = json.loads(str(npz["layout"]))
    return main, aux, layout


def load_table(path: Path) -> Any:
    """The main table stored in ``path`` as a :class:`hepsqueeze.Table` (for code without datasets)."""
    from hepsqueeze.io.table import Table

    main, _, _ = read_arrays(path)
    return Table(main)


def load_dataset(path: Path) -> Any:
    """The dataset stored in ``path`` by :func:`save_dataset`, as a :class:`hepsqueeze.io.Dataset`."""
    from hepsqueeze.io import Dataset
    from hepsqueeze.io.table import Table

    main, aux, layout = read_arrays(path)
    return Dataset(Table(main), {t: Table(cols) for t, cols in aux.items()}, layout)


def save_dataset(path: Path, table: Any, aux: Any = None, layout: Any = None) -> None:
    save_arrays(path, dataset_arrays(table, aux, layout))


def save_arrays(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def _save_table(path: Path, columns: dict[str, npt.NDArray[Any]]) -> None:
    """A plain table (no auxiliary tables, empty layout) as :func:`save_dataset` stores datasets."""
    save_arrays(path, {**{f"table/{k}": v for k, v in columns.items()}, "layout": np.array("{}")})


# --------------------------------------------------------------------------------------------------
# Inputs


def _jets(
    rng: np.random.Generator, rows: int, pt: tuple[float, float], eta: float, phi: float
) -> npt.NDArray[np.float64]:
    """Jet-like E, pt, eta, phi (float64): log-uniform pt, uniform eta and phi, masses of 2-40 GeV."""
    pts = np.exp(rng.uniform(np.log(pt[0]), np.log(pt[1]), rows))
    etas = rng.uniform(-eta, eta, rows)
    phis = rng.uniform(-phi, phi, rows)
    mass = rng.uniform(2.0, 40.0, rows)
    energy = np.sqrt(mass**2 + (pts * np.cosh(etas)) ** 2)
    return np.stack([energy, pts, etas, phis], axis=1)


def training_jets() -> npt.NDArray[np.float32]:
    """The model's training data: 2000 jets, wider than every input so that inputs fit its range."""
    return _jets(np.random.default_rng(20261201), 2000, (15.0, 1000.0), 2.8, np.pi).astype(np.float32)


def in_range(model: Any, x: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Rows of ``x`` (E, pt, eta, phi) well inside the model's min-max range on every variable."""
    ok = np.ones(x.shape[0], dtype=bool)
    for j, t in enumerate(model.normaliser.transforms):
        g = np.log10(x[:, j].astype(np.float64) + t.log_offset) if t.log else x[:, j].astype(np.float64)
        y = (g - t.shift) / t.scale
        ok &= (y > RANGE_MARGIN) & (y < 1.0 - RANGE_MARGIN)
    return ok


def _fitting_jets(model: Any, rng: np.random.Generator, rows: int) -> npt.NDArray[np.float64]:
    x = _jets(rng, 4 * rows, (25.0, 600.0), 2.3, 3.0)
    x = x[in_range(model, x.astype(np.float32))]
    assert x.shape[0] >= rows, "too few jets in the model's range"
    return x[:rows]


def _event_column(rng: np.random.Generator, rows: int) -> npt.NDArray[np.int64]:
    """Event numbers of 1-5 jets each, ascending from 1000."""
    sizes = rng.integers(1, 6, rows)
    return (1000 + np.repeat(np.arange(rows), sizes)[:rows]).astype(np.int64)


def _nan(bits: int, dtype: str) -> Any:
    """A NaN with the given payload bits."""
    width = np.dtype(dtype).itemsize
    return np.array([bits], dtype=f"<u{width}").view(f"<{dtype[1:]}" if dtype[0] in "<>" else dtype)[0]


def make_inputs() -> None:
    """The committed inputs of every golden file, from seeded numpy draws and the model file."""
    import hepsqueeze

    model = hepsqueeze.load_model(DATA / "model.hsqm")
    rng = np.random.default_rng(7)

    # The model file's own check: latents to decode, jets to encode.
    x32 = _fitting_jets(model, rng, 64).astype(np.float32)
    z = rng.normal(0.0, 1.0, (64, model.latent_dim)).astype(np.float32)
    save_arrays(DATA / "input_model.npz", {"x": x32, "z": z})

    # Format 1: one plain table, compressed E pt eta phi and lossless passthrough columns.
    x = _fitting_jets(model, rng, 300)
    plain: dict[str, npt.NDArray[Any]] = {"event": _event_column(rng, 300)}
    plain.update({v: x[:, j].astype(np.float32) for j, v in enumerate(VARIABLES)})
    plain["n_constituents"] = rng.integers(1, 60, 300).astype(np.int16)
    plain["btag"] = rng.uniform(0.0, 1.0, 300)
    _save_table(DATA / "input_plain.npz", plain)

    # Format 2: a DarkMachines CSV (objects and per-event quantities), read by the format-2 code.
    (DATA / "input_darkmachines.csv").write_text(_darkmachines_text(model, rng, 80), encoding="ascii")

    # Format 3: a plain table with values the model must not be given (exceptions).
    x = _fitting_jets(model, rng, 300)
    exc: dict[str, npt.NDArray[Any]] = {"event": _event_column(rng, 300)}
    exc.update({v: x[:, j].astype(np.float32) for j, v in enumerate(VARIABLES)})
    exc["phi"] = x[:, 3].astype(np.float64)  # a float64 compressed column: exceptions of 8 bytes
    exc["E"][[5, 6, 7]] = [np.nan, np.inf, 1e-42]  # NaN, +inf, a float32 denormal
    exc["E"][8] = _nan(0x7FC0_1234, "f4")  # a NaN with a payload
    exc["pt"][[40, 41, 42]] = [-np.inf, -5.0, 1e6]  # -inf, outside the log's domain, beyond the range
    exc["eta"][60] = 9.0  # beyond the training range
    exc["phi"][[77, 78]] = [_nan(0x7FF8_0000_0000_BEEF, "f8"), -0.0]
    exc["phi"][79] = 1e-310  # a float64 denormal
    exc["weight"] = rng.uniform(0.5, 2.0, 300).astype(np.float32)
    _save_table(DATA / "input_exceptions.npz", exc)

    # Format 4: float32 jets as the old bounded writer took them, a NaN E and a zero pt.
    _save_table(DATA / "input_bounded4.npz", _bounded_columns(rng, 300, wide=False))
    # Format 5: jets in several dtypes (float64 E, int32 pt, float16 eta), a NaN with a payload,
    # an inf, a zero, a phi of float32(2 pi): values whose float32 decoding misses the bound in the
    # column's own dtype are stored exactly (exception sections of E, pt and eta).
    _save_table(DATA / "input_bounded5.npz", _bounded_columns(rng, 300, wide=True))


def make_columns_input() -> None:
    """The input of the format-6 file (its own seed: the other inputs are not drawn again): a jet
    collection with an event column (pt descending in each event, a NaN pt, zero masses in
    float64, phi in [0, 2 pi), float16 eta, tau1/tau2/tau21 for a relation, a column no term names,
    an int32 flavour) and a per-event table (uint64 event numbers, uint32 run, MET, a bool)."""
    rng = np.random.default_rng(16)
    rows, events = 400, 100
    event = np.sort(rng.integers(0, events, rows)).astype(np.int64)
    pt = np.exp(rng.uniform(np.log(20.0), np.log(800.0), rows))
    pt = pt[np.lexsort((-pt, event))]
    tau1 = rng.uniform(0.1, 0.5, rows).astype(np.float32)
    tau2 = (tau1 * rng.uniform(0.2, 0.9, rows)).astype(np.float32)
    jets: dict[str, npt.NDArray[Any]] = {
        "event": event,
        "Jet_pt": pt.astype(np.float32),
        "Jet_eta": rng.uniform(-4.0, 4.0, rows).astype(np.float16),
        "Jet_phi": rng.uniform(0.0, 2 * np.pi, rows).astype(np.float32),
        "Jet_mass": np.where(rng.random(rows) < 0.2, 0.0, pt * rng.uniform(0.05, 0.2, rows)),
        "Jet_tau1": tau1,
        "Jet_tau2": tau2,
        "Jet_tau21": (tau2 / tau1).astype(np.float32),
        "Jet_raw": rng.normal(0.0, 1.0, rows).astype(np.float32),
        "Jet_hadronFlavour": rng.choice([0, 4, 5], rows).astype(np.int32),
    }
    jets["Jet_pt"][7] = _nan(0x7FC0_0042, "f4")
    per_event: dict[str, npt.NDArray[Any]] = {
        "event": np.arange(events, dtype=np.uint64) + 3_000_000_001,
        "run": np.ones(events, dtype=np.uint32),
        "MET_pt": rng.exponential(30.0, events).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, events).astype(np.float32),
        "pass": rng.random(events) < 0.5,
    }
    from hepsqueeze.io.table import Table

    save_dataset(DATA / "input_columns6.npz", Table(jets), {"events": Table(per_event)}, {"format": "test"})


def columns7(seed: int = 17) -> dict[str, npt.NDArray[Any]]:
    """The jets of the format-7 file (its own seed): 600 rows in 150 events; float32 pt
    (lognormal, one NaN), eta, phi in [-pi, pi), m and ``E = sqrt((pt cosh eta)^2 + m^2)`` (coded
    from that relation), an int32 multiplicity ``n`` that grows with pt, a ``width`` that grows
    with n (the two the model codes), an ``area`` of 40 distinct values on a grid of 0.01 (coded
    by its index in the stored alphabet) and tau1, tau2, tau21 = tau2 / tau1."""
    rng = np.random.default_rng(seed)
    rows, events = 600, 150
    event = np.sort(rng.integers(0, events, rows)).astype(np.int64)
    pt = rng.lognormal(3.5, 0.6, rows).astype(np.float32)
    eta = rng.normal(0.0, 1.5, rows).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, rows).astype(np.float32)
    m = (pt * rng.uniform(0.05, 0.2, rows)).astype(np.float32)
    pt[11] = np.nan
    p64, e64, m64 = (v.astype(np.float64) for v in (pt, eta, m))
    energy = np.sqrt((p64 * np.cosh(e64)) ** 2 + m64**2).astype(np.float32)
    n = rng.poisson(2.0 + np.nan_to_num(pt) / 8.0).astype(np.int32)
    grid = np.sort(rng.choice(np.arange(20, 200), 40, replace=False))
    tau1 = rng.lognormal(-2.0, 0.7, rows).astype(np.float32)
    tau2 = (tau1 * rng.uniform(0.2, 0.9, rows)).astype(np.float32)
    return {
        "event": event,
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "m": m,
        "E": energy,
        "n": n,
        "width": (0.02 * n + rng.normal(0.0, 0.01, rows)).astype(np.float32),
        "area": (rng.choice(grid, rows) * 0.01).astype(np.float32),
        "tau1": tau1,
        "tau2": tau2,
        "tau21": (tau2 / tau1).astype(np.float32),
    }


def make_columns7_input() -> None:
    """The input of the format-7 file (:func:`columns7`) and, once, its conditional model: small
    (8 hidden units, 2 layers, 3 epochs), trained on that input at :data:`COLUMNS7_MAX_ERROR`. The
    model is committed as data and never rewritten (its training is not bit-reproducible)."""
    import hepsqueeze
    from hepsqueeze.training.conditional import ConditionalTrainingConfig

    columns = columns7()
    _save_table(DATA / "input_columns7.npz", columns)
    out = DATA / CONDITIONAL7
    if out.exists():
        print(out.name, "exists")
        return
    config = ConditionalTrainingConfig(
        hidden=8, layers=2, epochs=3, batch=64, learning_rate=1e-2, seed=7, threads=1, name="golden7"
    )
    result = hepsqueeze.train_bounded(columns, max_error=COLUMNS7_MAX_ERROR, config=config)
    result.model.save(out)
    print(out.name, result.bits)


def _bounded_columns(rng: np.random.Generator, rows: int, *, wide: bool) -> dict[str, npt.NDArray[Any]]:
    x = _jets(rng, rows, (20.0, 800.0), 4.0, np.pi)
    event = _event_column(rng, rows)
    order = np.lexsort((-x[:, 1], event))  # the leading jet first in each event
    x = x[order]
    cols: dict[str, npt.NDArray[Any]] = {"event": event}
    if wide:
        cols["E"] = x[:, 0].copy()
        cols["E"][[3, 4]] = [_nan(0x7FF8_0000_0000_0042, "f8"), np.inf]
        cols["pt"] = np.rint(x[:, 1]).astype(np.int32)
        cols["pt"][10] = 0
        cols["eta"] = x[:, 2].astype(np.float16)
        cols["phi"] = x[:, 3].astype(np.float32)
        cols["phi"][20] = np.float32(2 * np.pi)  # on the [0, 2 pi) branch's edge
    else:
        for j, v in enumerate(VARIABLES):
            cols[v] = x[:, j].astype(np.float32)
        cols["E"][3] = np.nan
        cols["pt"][10] = 0.0
    cols["charge"] = rng.integers(-1, 2, rows).astype(np.int32)
    return cols


def _darkmachines_text(model: Any, rng: np.random.Generator, events: int) -> str:
    """DarkMachines lines (MeV, ``%.6g``): 1-4 objects (jets, b-jets, an electron or muon now and then)."""
    lines = []
    processes = ("ttbar", "wjets")
    for k in range(events):
        n = int(rng.integers(1, 5))
        x = _fitting_jets(model, rng, n)
        x = x[np.argsort(-x[:, 1])]
        met, metphi = rng.uniform(5e3, 2e5), rng.uniform(-np.pi, np.pi)
        fields = [
            str(100 + k),
            processes[k % 2],
            f"{rng.uniform(0.1, 2.0):.6g}",
            f"{met:.6g}",
            f"{metphi:.6g}",
        ]
        for row in x:
            kind = str(rng.choice(["j", "j", "j", "b", "e-", "m+"]))
            fields.append(f"{kind},{row[0] * 1e3:.6g},{row[1] * 1e3:.6g},{row[2]:.6g},{row[3]:.6g}")
        lines.append(";".join(fields) + ";\n")
    return "".join(lines)


# --------------------------------------------------------------------------------------------------
# Writers of each step


def make_model() -> None:
    import hepsqueeze
    from hepsqueeze.models.autoencoder import AutoencoderConfig

    x = training_jets()
    table = hepsqueeze.Table({v: x[:, j] for j, v in enumerate(VARIABLES)})
    config = AutoencoderConfig(nodes=MODEL_NODES, activation="leaky_relu", batchnorm=True)
    model = hepsqueeze.train(table, config, epochs=3, batch_size=128, seed=0, device="cpu")
    hepsqueeze.save_model(model, DATA / "model.hsqm")


def write_old(fmt: int) -> Path:
    """The file of data format ``fmt`` written by the code on the path (the commit of OLD_WRITERS)."""
    import hepsqueeze

    out = DATA / f"format{fmt}_{OLD_WRITERS[fmt]}.hsqz"
    if fmt == 1:
        from hepsqueeze.codec.compress import compress_table  # type: ignore[import-not-found]

        compress_table(load_table(DATA / "input_plain.npz"), hepsqueeze.load_model(DATA / "model.hsqm"), out)
    elif fmt == 2:
        from hepsqueeze.codec.compress import compress_dataset

        ds = hepsqueeze.read_dataset(DATA / "input_darkmachines.csv")
        save_dataset(DATA / "input_darkmachines.npz", ds.table, ds.aux, ds.layout)
        compress_dataset(
            load_dataset(DATA / "input_darkmachines.npz"), hepsqueeze.load_model(DATA / "model.hsqm"), out
        )
    elif fmt == 3:
        from hepsqueeze.codec.compress import compress_dataset

        compress_dataset(
            load_dataset(DATA / "input_exceptions.npz"), hepsqueeze.load_model(DATA / "model.hsqm"), out
        )
    elif fmt == 4:
        from hepsqueeze.codec.bounded_file import (  # type: ignore[import-not-found]
            compress_bounded,
            parse_max_error,
        )

        compress_bounded(load_dataset(DATA / "input_bounded4.npz"), out, parse_max_error(BOUNDED_MAX_ERROR))
    else:
        raise SystemExit(f"no old writer for data format {fmt}")
    print(out.name, data_format(out))
    return out


def current_commit() -> str:
    """The commit of the hepsqueeze code on the path (its worktree must be clean)."""
    import hepsqueeze

    src = Path(hepsqueeze.__file__).resolve().parent
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "src"], cwd=src, capture_output=True, text=True, check=True
    )
    if dirty.stdout.strip():
        raise SystemExit(f"{src} has uncommitted changes: write today's files from a clean worktree")
    head = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], cwd=src, capture_output=True, text=True, check=True
    )
    return head.stdout.strip()


def current_inputs() -> dict[int, str]:
    """The input of each data format today's writer still writes."""
    return {
        1: "input_plain.npz",
        2: "input_darkmachines.npz",
        3: "input_exceptions.npz",
        5: "input_bounded5.npz",
        7: "input_columns7.npz",
    }


def write_current() -> None:
    """Today's files of formats 1, 2, 3, 5 and 7, with the writers of ``test_golden`` (the same calls)."""
    import hepsqueeze

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_golden import write_autoencoder, write_bounded, write_learned

    commit = current_commit()
    model = hepsqueeze.load_model(DATA / "model.hsqm")
    for fmt, name in current_inputs().items():
        out = DATA / f"format{fmt}_{commit}.hsqz"
        if out.exists():  # golden files are never rewritten
            print(out.name, "exists")
            continue
        dataset = load_dataset(DATA / name)
        if fmt == 5:
            write_bounded(dataset, out)
        elif fmt == 7:
            write_learned(dataset, hepsqueeze.load_conditional_model(DATA / CONDITIONAL7), out)
        else:
            write_autoencoder(dataset, model, out)
        assert data_format(out) == fmt, out
        same = [
            p.name
            for p in DATA.glob(f"format{fmt}_*.hsqz")
            if p != out and p.read_bytes() == out.read_bytes()
        ]
        if same:  # the old writer's file is today's too: it is the one to compare with
            out.unlink()
            print(f"format {fmt}: today's file has the bytes of {same[0]}")
        else:
            print(out.name, data_format(out))


def data_format(path: Path) -> int:
    try:
        from hepsqueeze.container import ContainerReader
    except ImportError:  # before the container package: hepsqueeze.codec.container
        from hepsqueeze.codec.container import ContainerReader  # type: ignore[no-redef,import-not-found]

    with ContainerReader.open(path) as reader:
        return int(reader.header["data_format"])


def golden_files() -> list[Path]:
    return sorted(p for p in DATA.glob("*.hsqz"))


def make_expected(names: Sequence[str] = ()) -> None:
    """What today's reader decodes from every golden file, and the model from its latents; with
    ``names``, from those files only (the other expected values and the model's untouched)."""
    import torch

    import hepsqueeze

    torch.set_num_threads(1)
    for path in [DATA / n for n in names] if names else golden_files():
        ds = hepsqueeze.decompress_to_dataset(path)
        save_dataset(path.with_name(f"{path.stem}_expected.npz"), ds.table, ds.aux, ds.layout)
        print(path.name, data_format(path), ds.summary())
    if names:
        return
    model = hepsqueeze.load_model(DATA / "model.hsqm")
    with np.load(DATA / "input_model.npz") as npz:
        x, z = npz["x"], npz["z"]
    save_arrays(DATA / "model_expected.npz", {"decoded": model.decode(z), "encoded": model.encode(x)})


def check_old(fmt: int) -> None:
    """The code on the path decodes its own file (and the model) to the committed expected values."""
    import torch

    import hepsqueeze

    torch.set_num_threads(1)
    path = DATA / f"format{fmt}_{OLD_WRITERS[fmt]}.hsqz"
    main, aux, layout = read_arrays(path.with_name(f"{path.stem}_expected.npz"))
    got_aux: Mapping[str, Any] = {}
    got_layout: Mapping[str, Any] = {}
    if fmt == 1:
        table = hepsqueeze.decompress(path)
    else:
        ds = hepsqueeze.decompress_to_dataset(path)
        table, got_aux, got_layout = ds.table, ds.aux, ds.layout
    _same(table, main, path.name)
    assert set(got_aux) == set(aux), path
    for tname, cols in aux.items():
        _same(got_aux[tname], cols, f"{path.name} {tname}")
    if fmt != 1:
        assert json.loads(json.dumps(dict(got_layout))) == layout, path
    model = hepsqueeze.load_model(DATA / "model.hsqm")
    with np.load(DATA / "input_model.npz") as npz, np.load(DATA / "model_expected.npz") as want:
        assert model.decode(npz["z"]).tobytes() == want["decoded"].tobytes()
        assert model.encode(npz["x"]).tobytes() == want["encoded"].tobytes()
    print(path.name, "decodes with its own code as with today's")


def _same(table: Any, want: dict[str, npt.NDArray[Any]], what: str) -> None:
    assert list(table.names) == list(want), what
    for name, arr in want.items():
        assert table[name].dtype == arr.dtype, (what, name)
        assert table[name].tobytes() == arr.tobytes(), (what, name)


def main(argv: list[str]) -> None:
    step = argv[0] if argv else ""
    if step == "model":
        make_model()
    elif step == "inputs":
        make_inputs()
    elif step == "inputs6":
        make_columns_input()
    elif step == "inputs7":
        make_columns7_input()
    elif step == "write":
        write_old(int(argv[1]))
    elif step == "current":
        write_current()
    elif step == "expected":
        make_expected(argv[1:])
    elif step == "check":
        check_old(int(argv[1]))
    else:
        raise SystemExit(
            "usage: make_golden.py model|inputs|inputs6|inputs7|write N|current|expected [FILE...]|check N"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

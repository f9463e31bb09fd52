"""``hepsqueeze export``: two ONNX files beside -o, or one line and a non-zero exit status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hepsqueeze.cli import main
from hepsqueeze.models import save_model
from hepsqueeze.models.model import CompressionModel

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def tiny_file(tiny_model: CompressionModel, tmp_path: Path) -> Path:
    return save_model(tiny_model, tmp_path / "tiny.hsqm")


def test_export_a_model_file(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    from hepsqueeze.models.onnx_export import session

    code, out, err = run(
        ["export", str(tiny_file), "--format", "onnx", "-o", str(tmp_path / "out" / "m.onnx")], capsys
    )
    assert code == 0, err
    enc, dec = tmp_path / "out" / "m.encoder.onnx", tmp_path / "out" / "m.decoder.onnx"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.decoder.onnx", "m.encoder.onnx"]
    assert str(enc) in out
    assert str(dec) in out
    for path in (enc, dec):
        onnx.checker.check_model(str(path), full_check=True)
    z = session(enc).run(None, {"physical": np.array([[100.0, 50.0, 1.0, 0.5]], np.float32)})[0]
    assert z.shape == (1, 2)
    # existing outputs: refused in one line with the hint, then replaced with --force
    code, _, err = run(["export", str(tiny_file), "-o", str(tmp_path / "out" / "m.onnx")], capsys)
    assert "--force" in one_line_error(code, err)
    code, _, err = run(["export", str(tiny_file), "-o", str(tmp_path / "out" / "m.onnx"), "--force"], capsys)
    assert code == 0, err


def test_export_a_zoo_model_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["export", "zoo:ae4d-3", "-o", str(tmp_path / "ae4d"), "--normalised", "--json"], capsys
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["model"] == "zoo:ae4d-3"
    assert res["io"] == "normalised"
    assert res["encoder"]["path"] == str(tmp_path / "ae4d.encoder.onnx")
    assert res["decoder"]["input"] == "latent"
    assert res["encoder"]["max_error"] <= 1e-5
    assert res["decoder"]["max_error"] <= 1e-5
    assert (tmp_path / "ae4d.decoder.onnx").stat().st_size == res["decoder"]["bytes"]


@pytest.mark.parametrize("fmt", ["keras", "tflite", "qonnx"])
def test_other_formats_are_refused(
    tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, _, err = run(["export", str(tiny_file), "--format", fmt, "-o", str(tmp_path / "m.onnx")], capsys)
    line = one_line_error(code, err)
    assert f"unsupported export format {fmt!r}: only onnx (--format)" in line
    assert list(tmp_path.iterdir()) == [tiny_file]


def test_non_autoencoders_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hepsqueeze.zoo.conditional import conditional_cards, models_directory

    file = tmp_path / "bounded.hsqb"
    shutil.copy(models_directory() / conditional_cards()[0].file, file)
    for spec in ("zoo:bounded-jets27d", str(file)):
        code, _, err = run(["export", spec, "-o", str(tmp_path / "b.onnx")], capsys)
        assert "only autoencoders export to ONNX" in one_line_error(code, err)
    assert list(tmp_path.iterdir()) == [file]


def test_bad_models_and_options(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "m.onnx")
    code, _, err = run(["export", str(tmp_path / "missing.hsqm"), "-o", out], capsys)
    assert "does not exist" in one_line_error(code, err)
    garbage = tmp_path / "garbage.hsqm"
    garbage.write_bytes(b"not a model at all")
    code, _, err = run(["export", str(garbage), "-o", out], capsys)
    one_line_error(code, err)
    code, _, err = run(["export", "zoo:nope", "-o", out], capsys)
    assert "no model 'nope' in the zoo" in one_line_error(code, err)
    code, _, err = run(["export", str(tiny_file), "--opset", "7", "-o", out], capsys)
    assert "(--opset)" in one_line_error(code, err)
    code, _, err = run(["export", str(tiny_file), "-o", str(tmp_path)], capsys)
    assert "is a directory" in one_line_error(code, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.hsqm", "tiny.hsqm"]

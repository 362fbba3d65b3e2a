"""`brainalign decode CONFIG.yaml`: a decoding study end to end, its errors, `report` on it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "decoders"))
from _fixtures_image_heads import save_tiny_dcgan
from _fixtures_text_heads import (
    tiny_encoder,
    torch_one_thread,  # noqa: F401  (autouse fixture)
)

from brainalign.cli import main


@pytest.fixture(scope="module")
def setup_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("decode_cli")
    (root / "models").mkdir()
    save_tiny_dcgan(root / "models" / "weights.tar")
    tiny_encoder(root / "models" / "bert")
    return root


def _write(folder: Path, **changes) -> Path:
    data = {
        "name": "cli-tiny",
        "tasks": ["faces", "sentences"],
        "n_permutations": 3,
        "faces": {
            "n_train": 120,
            "n_test": 20,
            "n_voxels": 100,
            "r_range": [0.3, 0.5],
            "generator": "models/weights.tar",  # relative to the YAML file
            "identification": ["pixels"],
            "n_show": 4,
        },
        "sentences": {"embedder": "models/bert", "n_voxels": 100, "snr": 1.0},
        "output": str(folder / "from_config"),
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = folder / "decode.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_decode_end_to_end(setup_dir, tmp_path, capsys):
    path = _write(setup_dir)
    out = tmp_path / "res"
    assert main(["decode", str(path), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("== brainalign decode: cli-tiny ==")
    assert "nulls: permuted-brain, noise (test input only)" in printed
    # the key figures, each with both nulls, chance and p-values
    line = next(ln for ln in printed.splitlines() if "two-way identification (pixels)" in ln)
    assert re.search(r"permuted-brain null 0\.\d{3} ± 0\.\d{3} \(p = 0\.25\)", line), line
    assert "noise null" in line and "chance 0.500" in line
    assert "faces (single-trial test responses):" in printed
    assert any(ln.strip().startswith("BLEU-1:") for ln in printed.splitlines())
    assert f"report: {out / 'report.html'}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "decoding" and summary["name"] == "cli-tiny"
    assert not (setup_dir / "from_config").exists()  # --out wins over `output`
    # `brainalign report` rebuilds a decode folder
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert "report:" in capsys.readouterr().out
    assert "Decoding: sentences" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tasks": ["faces", "smell"]}, r"`tasks`: unknown task\(s\) \['smell'\]; expected"),
        ({"faces": {"n_tset": 5}}, r"unknown key `faces.n_tset`; valid keys here are \["),
        ({"faces": {"generator": "models/none.tar"}}, r"`faces.generator` must be an existing"),
        ({"sentences": {"embedder": "nowhere"}}, r"`sentences.embedder` must be an existing"),
        ({"nulls": []}, r"`nulls`: must be a non-empty list"),
        (
            {"tasks": ["digits"], "digits": {"model_dir": "models/missing"}},
            r"`digits.model_dir` must be an existing diffusion model folder",
        ),
    ],
)
def test_decode_errors(setup_dir, tmp_path, capsys, change, message):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "models").symlink_to(setup_dir / "models")
    path = _write(folder, **change)
    out = tmp_path / "out"
    assert main(["decode", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brainalign: error:")
    assert re.search(message, err, flags=re.S), err
    assert not out.exists()  # nothing written


def test_decode_missing_config(tmp_path, capsys):
    assert main(["decode", str(tmp_path / "nope.yaml")]) == 2
    assert "`config` must be an existing YAML file" in capsys.readouterr().err


def test_console_script_decode_help():
    res = subprocess.run(
        [sys.executable, "-m", "brainalign", "decode", "--help"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "--out" in res.stdout and "--quiet" in res.stdout

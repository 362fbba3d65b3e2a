import re

import h5py
import pytest
from _fake_results import write_fake_results

from brainalign.cli import main
from brainalign.exceptions import DataFormatError
from brainalign.study import build_demo_report, load_demo_results


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return write_fake_results(tmp_path_factory.mktemp("demo"))


def test_report_from_saved_results(results):
    path = build_demo_report(results)
    text = path.read_text()
    assert path.name == "report.html"
    # 4 surface maps + histogram + layers (language), HRF + 2 nulls (MT),
    # faces grid + faces nulls + sentences nulls (decoding)
    assert text.count('<figure class="ba-figure"') == 12
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert len(srcs) == 12 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for needle in ("held-out r", "FIR estimate", "Provenance", "ab" * 32, "sha256", "13.3 min"):
        assert needle in text
    for needle in ("3.1 Decoding: faces", "3.2 Decoding: sentences", "Decoding models"):
        assert needle in text
    assert "The cat sat &lt;on&gt; the mat." in text and "<on>" not in text  # escaped


def test_report_without_the_decoding_part(tmp_path):
    text = build_demo_report(write_fake_results(tmp_path, decoding=False)).read_text()
    assert text.count('<figure class="ba-figure"') == 9 and "Decoding" not in text


def test_results_round_trip(results):
    arrays, summary = load_demo_results(results)
    assert set(arrays) == {"language", "mt", "decoding"}
    assert arrays["decoding"]["faces.recon.single"].shape == (6, 64, 64, 3)
    assert summary["decoding"]["faces"]["n_test_repeats"] == 3
    assert arrays["language"]["planted_shares"].shape == (3, 600)
    assert summary["mt"]["fir_peak_s"] == 6.0


def test_cli_report_rebuilds(results, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert main(["report", str(results), "--out", str(out)]) == 0
    assert out.is_file() and "report:" in capsys.readouterr().out


def test_missing_and_corrupt_results(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"must hold results\.h5 and summary\.json"):
        load_demo_results(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    assert "results.h5" in capsys.readouterr().err
    (tmp_path / "results.h5").write_bytes(b"garbage" * 20)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(DataFormatError, match="not a complete results file"):
        load_demo_results(tmp_path)
    with h5py.File(tmp_path / "results.h5", "w") as h5:  # written but never marked complete
        h5.create_group("mt")
    with pytest.raises(DataFormatError, match="not marked complete"):
        load_demo_results(tmp_path)

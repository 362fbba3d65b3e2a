"""The two parts of the embedded default study, on their real inputs."""

import numpy as np
import pytest

from brainalign.study import LanguageDemoConfig, run_language_demo, run_mt_demo
from brainalign.study._demo_language import make_reading_events, read_demo_story


def test_story_and_reading_paradigm():
    runs = read_demo_story()
    n_words = sum(len(r) for r in runs)
    assert len(runs) >= 5 and n_words >= 1800  # >= 12 min at 0.4 s per word
    events, n_trs = make_reading_events(
        runs[0], soa=0.4, duration=0.3, lead_in=10.0, tail=16.0, tr=2.0
    )
    assert events["onset"].iloc[0] == 10.0
    np.testing.assert_allclose(np.diff(events["onset"]), 0.4)
    assert n_trs * 2.0 >= events["onset"].iloc[-1] + 0.3 + 16.0
    assert list(events["text"]) == runs[0]


def test_story_errors(tmp_path):
    empty = tmp_path / "s.txt"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(ValueError, match="holds no words"):
        read_demo_story(empty)


def test_mt_part_on_real_nitime_data():
    arrays, s = run_mt_demo(n_permutations=50, n_decoding_permutations=3, seed=0)
    assert s["n_samples"] == 3360 and s["n_conditions"] == 6 and s["n_trials"] == 576
    assert 4.0 <= s["fir_peak_s"] <= 8.0
    assert arrays["fir"].shape == arrays["fir_se"].shape == (11, 6)
    assert np.all(arrays["fir_se"] > 0)
    # the condition model predicts held-out BOLD far better than its block-permutation null
    assert s["encoding_r"] > 0.3 > s["encoding_null_q95"]
    assert s["encoding_p"] == pytest.approx(1 / 51)
    dec = s["decoding"]
    assert dec["chance"] == pytest.approx(1 / 6) and 0 <= dec["accuracy"] <= 1
    assert arrays["decoding_null"].shape == (3,)


@pytest.mark.slow
def test_language_part_recovers_the_planted_brain(tmp_path):
    """Real SmolLM2 features, real noise: planted maps and layer are recovered (quick size)."""
    cfg = LanguageDemoConfig(max_words=150, n_vertices=1500, scan_layers=(0, 10, 20, 30), n_iter=6)
    arrays, s = run_language_demo(cfg, cache_dir=tmp_path / "features", verbose=False)
    assert s["median_r_signal"] > 0.15
    assert abs(s["median_r_no_signal"]) < 0.05
    # FDR at 5 % bounds the expected share of false discoveries; allow for sampling noise
    assert s["detection"]["false_discovery_proportion"] < 0.15
    assert s["detection"]["false_positive_rate"] < 0.15
    assert s["share_recovery_corr"]["llm"] > 0.3
    assert abs(s["best_scan_layer"] - s["planted_layer"]) <= 10
    assert arrays["r"].shape == (1500,) and arrays["planted_shares"].shape == (3, 1500)


def test_demo_checks_its_inputs_before_writing(tmp_path, monkeypatch, capsys):
    import brainalign.datasets._package as package
    from brainalign.cli import main
    from brainalign.exceptions import DataFormatError
    from brainalign.study import check_demo_inputs

    assert "event_related_fmri.csv" in check_demo_inputs(("mt",))
    corrupt = tmp_path / "event_related_fmri.csv"
    corrupt.write_text("bold,events\n0.1,0\n")
    monkeypatch.setattr(package, "locate_package_file", lambda dist, member: corrupt)
    with pytest.raises(DataFormatError, match=r"corrupt or another version.*force-reinstall"):
        check_demo_inputs(("mt",))
    monkeypatch.setattr(package, "locate_package_file", lambda dist, member: None)
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps nitime==0\.12\.1"):
        check_demo_inputs(("mt",))
    out = tmp_path / "demo_out"
    assert main(["demo", "--out", str(out), "--quiet"]) == 2
    assert "brainalign datasets fetch" in capsys.readouterr().err
    assert not out.exists()  # nothing half-done

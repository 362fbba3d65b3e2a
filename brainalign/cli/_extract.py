"""``brainalign extract CONFIG.yaml``: features of a list of stimuli, written through the cache.

The YAML file holds ``family`` (see :func:`brainalign.features.available_families`), the
fields of that family's extractor config, and:

- ``stimuli``: a path or a list of paths (relative to the YAML file), one cache file each:
  events TSVs with word rows for ``text`` and ``words``; for ``image``, ``clip``,
  ``efficientnet`` and ``vlm``, an events TSV (``stim_file`` relative to the TSV's folder,
  ``onset``, and ``text`` captions or instructions) or a single image file (not for
  ``vlm``, which needs instructions); video files for ``video``; audio (or video) files for
  ``audio`` and ``whisper``;
- ``cache_dir``: where the features go (one HDF5 file per stimulus), or ``out``: a folder
  for ``summary.json`` (and the cache, under ``out/cache``, when ``cache_dir`` is absent).

Example::

    family: text
    model: builtin:smollm2        # or a model folder; builtin:minilm for all-MiniLM-L6-v2
    context: 256
    layers: [15, -1]
    stimuli: [story1_events.tsv, story2_events.tsv]
    cache_dir: features
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["add_extract_parser", "format_summary", "run_extract"]

_CLI_KEYS = ("stimuli", "out")
_BUILTIN_MODELS = ("builtin:smollm2", "builtin:minilm")


def add_extract_parser(sub: Any) -> None:
    """Add the ``extract`` command to the ``brainalign`` sub-parsers."""
    p = sub.add_parser("extract", help="extract stimulus features (text, image, ...) to a cache")
    p.add_argument("config", help="path to the YAML extraction config")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_extract)


def _cmd_extract(args: argparse.Namespace) -> int:
    summary = run_extract(args.config, verbose=not args.quiet)
    print(format_summary(summary))
    return 0


def _resolve_model(value: Any, base: Path) -> Any:
    if value == "builtin:smollm2":
        from brainalign.features import smollm2_path

        return str(smollm2_path())
    if value == "builtin:minilm":
        from brainalign.features import minilm_path

        return str(minilm_path())
    if isinstance(value, str) and not Path(value).is_absolute() and (base / value).exists():
        return str(base / value)
    return value


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    from brainalign.exceptions import ConfigError

    if not path.is_file():
        raise FileNotFoundError(f"extraction config {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping (family, model, stimuli, ...); got {type(data).__name__}"
        )
    return data


def run_extract(config_path: str | Path, *, verbose: bool | None = True) -> dict[str, Any]:
    """Extract the features of every stimulus of a YAML config, through the cache.

    Parameters
    ----------
    config_path : str or Path
        The YAML extraction config (see the module notes).
    verbose : bool or None
        Progress bars (over stimuli, and inside each extraction). ``False`` silences them
        all, whatever the config says; ``True`` or ``None`` keep the config's ``verbose``.

    Returns
    -------
    dict
        The summary: family, model, cache folder, and per stimulus its cache file, number of
        items, layers and dims, whether it was computed or read from the cache, and seconds.
    """
    from brainalign._logging import progress
    from brainalign.exceptions import ConfigError
    from brainalign.features import make_extractor

    path = Path(config_path)
    base = path.parent
    data = _load_yaml(path)
    stimuli = data.get("stimuli")
    if isinstance(stimuli, str):
        stimuli = [stimuli]
    if not stimuli or not isinstance(stimuli, list):
        raise ConfigError(
            f"{path}: `stimuli` must be a path or a non-empty list of paths; got {stimuli!r}"
        )
    out = data.get("out")
    out_dir = (base / out) if out else None
    values = {k: v for k, v in data.items() if k not in _CLI_KEYS}
    if values.get("cache_dir"):
        values["cache_dir"] = str(base / values["cache_dir"])
    elif out_dir is not None:
        values["cache_dir"] = str(out_dir / "cache")
    else:
        raise ConfigError(
            f"{path}: give `cache_dir` (where features are written) or `out` (a folder; the "
            f"features go to out/cache)"
        )
    if "model" in values:
        values["model"] = _resolve_model(values["model"], base)
    if verbose is False:
        values["verbose"] = False
    elif verbose is not None:
        values.setdefault("verbose", verbose)
    extractor = make_extractor(values)
    paths = [base / str(s) for s in stimuli]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{path}: stimulus files not found: {missing}")
    cache = extractor.cache
    rows = []
    for stim_path in progress(paths, desc="stimuli", total=len(paths), verbose=verbose):
        stimulus = extractor.load_stimulus(stim_path)
        uid = extractor.stimulus_uid(stimulus)
        file = cache.path(extractor.config, uid)
        before = file.stat().st_mtime_ns if file.is_file() else None
        start = time.perf_counter()
        features = extractor.extract(stimulus, uid=uid)
        cached = before is not None and file.stat().st_mtime_ns == before
        rows.append(
            {
                "stimulus": str(stim_path),
                "file": str(file),
                "source": "cache" if cached else "computed",
                "n_items": features.n_items,
                "span_s": [float(features.times[0]), float(features.times[-1])],
                "layers": {k: int(v.shape[1]) for k, v in features.layers.items()},
                "seconds": round(time.perf_counter() - start, 3),
            }
        )
    summary = {
        "family": type(extractor.config).family,
        "model": extractor.config.model,
        "cache_key": extractor.config.cache_key(),
        "cache_dir": str(cache.root),
        "stimuli": rows,
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["summary_file"] = str(out_dir / "summary.json")
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The printed summary of :func:`run_extract`."""
    rows = summary["stimuli"]
    n_new = sum(r["source"] == "computed" for r in rows)
    lines = [
        f"== brainalign extract: {summary['family']} features of {summary['model']} ==",
        f"{len(rows)} stimuli: {n_new} computed, {len(rows) - n_new} from the cache "
        f"({summary['cache_dir']})",
    ]
    for r in rows:
        dims = sorted(set(r["layers"].values()))
        lines.append(
            f"  {Path(r['stimulus']).name}: {r['n_items']} items, {len(r['layers'])} layers × "
            f"{'/'.join(map(str, dims))} dims, {r['span_s'][0]:.2f}-{r['span_s'][1]:.2f} s, "
            f"{r['source']} in {r['seconds']:.2f} s -> {r['file']}"
        )
    if summary.get("summary_file"):
        lines.append(f"summary: {summary['summary_file']}")
    return "\n".join(lines)

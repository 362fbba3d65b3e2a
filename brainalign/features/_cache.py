"""On-disk feature cache: one HDF5 file per (config, stimulus) holding every layer."""

from __future__ import annotations

import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path

import numpy as np

from brainalign._atomic import atomic_path
from brainalign._logging import logger
from brainalign.data._featureset import FeatureSet
from brainalign.features._config import ExtractorConfig

__all__ = ["FeatureCache", "library_versions"]

_FORMAT_VERSION = 2  # 2: fletcher32 checksums on every dataset


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape extracted features."""
    out = {"python": platform.python_version()}
    for dist in ("brainalign", "numpy", "torch", "transformers", "tokenizers", "h5py"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _slug(text: str) -> str:
    tail = Path(text.rstrip("/\\")).name or text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tail)[:48] or "model"


class FeatureCache:
    """Feature files under ``root/<family>/<model>-<key[:16]>/<stimulus uid>.h5``.

    Each file holds ``times`` (s), optional ``durations``, one dataset per layer under
    ``layers/`` (each with a Fletcher-32 checksum that HDF5 verifies on read), and
    attributes: the extractor config (JSON), its cache key, library versions, the format
    version and a ``complete`` flag written last. Files are written under a temporary name
    and renamed only when complete, so an interrupted extraction never leaves a file under the
    final name. A file that cannot be read, fails a checksum, lacks the flag, or was made by
    another config or format version is treated as missing (and logged), and the extraction
    recomputes it.

    Parameters
    ----------
    root : str or path-like
        Cache folder (created on first write).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    def path(self, config: ExtractorConfig, uid: str) -> Path:
        """Where the features of stimulus ``uid`` under ``config`` live."""
        if not uid or re.search(r"[^A-Za-z0-9._-]", uid):
            raise ValueError(
                f"`uid` must be a non-empty string of letters, digits, '.', '_' or '-'; got {uid!r}"
            )
        folder = f"{_slug(config.model)}-{config.cache_key()[:16]}"
        return self.root / config.family / folder / f"{uid}.h5"

    def load(self, config: ExtractorConfig, uid: str) -> FeatureSet | None:
        """The cached FeatureSet (all layers, float32), or None when absent or unusable."""
        import h5py

        path = self.path(config, uid)
        if not path.is_file():
            return None
        try:
            with h5py.File(path, "r") as h5:
                if not h5.attrs.get("complete", False):
                    raise OSError("the file is not marked complete")
                if h5.attrs.get("cache_key") != config.cache_key():
                    raise OSError("it was written by another extractor config")
                if h5.attrs.get("format_version") != _FORMAT_VERSION:
                    raise OSError(
                        f"format version {h5.attrs.get('format_version')!r}, this version "
                        f"reads {_FORMAT_VERSION}"
                    )
                times = h5["times"][()]
                durations = h5["durations"][()] if "durations" in h5 else None
                order = json.loads(h5.attrs["layer_order"])
                layers = {name: h5["layers"][name][()].astype(np.float32) for name in order}
                stored = json.loads(h5.attrs["config"])
            # the checksums catch damaged data; this catches damaged times or shapes
            return FeatureSet(times=times, layers=layers, durations=durations, config=stored)
        except (OSError, KeyError, ValueError, TypeError) as err:
            logger.warning("feature cache file %s is unusable (%s); recomputing", path, err)
            return None

    def save(self, features: FeatureSet, config: ExtractorConfig, uid: str) -> Path:
        """Write ``features`` atomically; returns the final path."""
        import h5py

        path = self.path(config, uid)
        self._remove_stale_parts(path)
        dtype = np.float16 if config.dtype == "float16" else np.float32
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as h5:
                # fletcher32: HDF5 checks every chunk on read, so damaged data is detected
                h5.create_dataset("times", data=features.times, fletcher32=True)
                if features.durations is not None:
                    h5.create_dataset("durations", data=features.durations, fletcher32=True)
                group = h5.create_group("layers")
                for name, arr in features.layers.items():
                    group.create_dataset(name, data=np.asarray(arr, dtype=dtype), fletcher32=True)
                h5.attrs["config"] = json.dumps(config.cache_dict(), sort_keys=True)
                h5.attrs["cache_key"] = config.cache_key()
                h5.attrs["stimulus_uid"] = uid
                h5.attrs["layer_order"] = json.dumps(list(features.layers))
                h5.attrs["versions"] = json.dumps(library_versions(), sort_keys=True)
                h5.attrs["format_version"] = _FORMAT_VERSION
                h5.attrs["complete"] = True
        return path

    @staticmethod
    def _remove_stale_parts(path: Path, max_age_s: float = 3600.0) -> None:
        """Delete temporary files of ``path`` left by a killed writer (older than an hour).

        Younger ones may belong to a writer that is still running, so they are left alone.
        """
        import time

        if not path.parent.is_dir():
            return
        now = time.time()
        for part in path.parent.glob(f".{path.name}.*.part"):
            try:
                if now - part.stat().st_mtime > max_age_s:
                    part.unlink()
                    logger.info("removed a stale temporary feature file %s", part)
            except FileNotFoundError:
                continue

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

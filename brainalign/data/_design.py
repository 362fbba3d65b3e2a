"""`Design`: named feature bands ``X``, responses ``Y`` and run ``groups``, ready to fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_groups
from brainalign.data._space import Space

__all__ = ["Design"]


@dataclass(eq=False)
class Design:
    """A design matrix split into named bands, with responses and runs.

    Parameters
    ----------
    bands : dict of str to ndarray, shape (n_samples, n_features_band)
        Feature bands in order; ``X`` is their horizontal concatenation.
    Y : ndarray, shape (n_samples, n_targets)
        Responses.
    groups : ndarray, shape (n_samples,)
        Run label of each sample (contiguous blocks); used for blocked cross-validation.
    times : ndarray, shape (n_samples,) or None
        Sample times in seconds within each run.
    space : Space or None
        What the targets of ``Y`` are.
    metadata : dict
        What was done to build it (resampling, delays, trims, z-scoring) for provenance.
    """

    bands: dict[str, np.ndarray]
    Y: np.ndarray
    groups: np.ndarray
    times: np.ndarray | None = None
    space: Space | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.Y = check_array(self.Y, "Y", ndim=2, shape_doc="(n_samples, n_targets)")
        n = self.Y.shape[0]
        if not isinstance(self.bands, dict) or not self.bands:
            raise ValueError("`bands` must be a non-empty dict of name -> (n_samples, n_features)")
        clean = {}
        for name, arr in self.bands.items():
            a = check_array(arr, f"bands[{name!r}]", ndim=2, shape_doc="(n_samples, n_features)")
            if a.shape[0] != n:
                raise ValueError(
                    f"`bands[{name!r}]` must have as many samples as `Y`; got "
                    f"bands[{name!r}].shape={a.shape}, Y.shape={self.Y.shape}. Did you trim "
                    f"the same samples from the features and the responses?"
                )
            clean[str(name)] = a
        self.bands = clean
        self.groups = check_groups(self.groups, n)
        if self.times is not None:
            # Times restart in every run, so they are only increasing within a run.
            self.times = check_array(self.times, "times", ndim=1, dtype=np.float64)
            if self.times.shape[0] != n:
                raise ValueError(
                    f"`times` must have one entry per sample of `Y` ({n}); got "
                    f"times.shape={self.times.shape}, Y.shape={self.Y.shape}. Trim the sample "
                    f"times like the responses."
                )

    @property
    def X(self) -> np.ndarray:
        """All bands concatenated, shape (n_samples, n_features)."""
        return np.concatenate(list(self.bands.values()), axis=1)

    @property
    def band_names(self) -> list[str]:
        return list(self.bands)

    @property
    def band_sizes(self) -> dict[str, int]:
        return {k: int(v.shape[1]) for k, v in self.bands.items()}

    @property
    def band_slices(self) -> dict[str, slice]:
        """Columns of ``X`` that belong to each band."""
        out, start = {}, 0
        for name, size in self.band_sizes.items():
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def n_samples(self) -> int:
        return int(self.Y.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.Y.shape[1])

    @property
    def runs(self) -> list[Any]:
        """Run labels in order of appearance."""
        _, idx = np.unique(self.groups, return_index=True)
        return [self.groups[i] for i in sorted(idx)]

    def select_bands(self, names: str | list[str]) -> Design:
        """A design with only some bands (in the given order)."""
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in self.bands]
        if unknown:
            raise KeyError(
                f"unknown band name(s) {unknown}; the design has bands {self.band_names}"
            )
        return Design(
            {n: self.bands[n] for n in names},
            self.Y,
            self.groups,
            self.times,
            self.space,
            dict(self.metadata),
        )

    def __repr__(self) -> str:
        return (
            f"Design({self.n_samples} samples in {len(self.runs)} runs, bands={self.band_sizes}, "
            f"{self.n_targets} targets)"
        )

"""`TrialSet`: one response per trial (betas, epochs) plus a trials table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_choice, check_times
from brainalign.data._recording import MODALITIES
from brainalign.data._space import Space

__all__ = ["TrialSet"]


@dataclass(eq=False)
class TrialSet:
    """Responses to discrete trials.

    Parameters
    ----------
    data : ndarray, shape (n_trials, n_targets) or (n_trials, n_targets, n_times)
        Single-trial responses (GLM betas, or epochs for M/EEG).
    trials : pandas.DataFrame
        One row per trial; ``stim_id`` (stimulus identity) enables repeat averaging and noise
        ceilings.
    times : ndarray, shape (n_times,) or None
        Epoch times in seconds (required for 3-D data).
    modality : str
    space : Space or None
    metadata : dict
    """

    data: np.ndarray
    trials: Any
    times: np.ndarray | None = None
    modality: str = "other"
    space: Space | None = None
    subject: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import pandas as pd

        self.data = check_array(
            self.data, "data", ndim=(2, 3), shape_doc="(n_trials, n_targets[, n_times])"
        )
        check_choice(self.modality, "modality", MODALITIES)
        if not isinstance(self.trials, pd.DataFrame):
            raise TypeError(
                f"`trials` must be a pandas DataFrame; got {type(self.trials).__name__}"
            )
        if len(self.trials) != self.data.shape[0]:
            raise ValueError(
                f"`trials` must have one row per trial ({self.data.shape[0]} = data.shape[0]); "
                f"got {len(self.trials)} rows"
            )
        self.trials = self.trials.reset_index(drop=True)
        if self.data.ndim == 3:
            if self.times is None:
                raise ValueError("`times` is required for epoched (3-D) data")
            self.times = check_times(self.times, "times", n=self.data.shape[2])
        if self.space is None:
            self.space = Space.generic(self.data.shape[1])
        elif self.space.n_targets != self.data.shape[1]:
            raise ValueError(
                f"`space` must describe {self.data.shape[1]} targets; got n_targets="
                f"{self.space.n_targets}"
            )

    @property
    def n_trials(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.data.shape[1])

    def __repr__(self) -> str:
        return f"TrialSet({self.modality}, data shape {self.data.shape}, {self.n_trials} trials)"

    def _stim_column(self, by: str) -> np.ndarray:
        if by not in self.trials.columns:
            raise ValueError(
                f"`by` must name a column of `trials`; got {by!r} (columns: "
                f"{list(self.trials.columns)})"
            )
        return self.trials[by].to_numpy()

    def average_repeats(self, by: str = "stim_id") -> TrialSet:
        """Average trials that share the same ``by`` value (first-appearance order)."""
        import pandas as pd

        ids = self._stim_column(by)
        uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        order = np.argsort(first)
        # Sums in float64; the average keeps the data's floating dtype (float32 stays float32).
        sums = np.zeros((len(uniq), *self.data.shape[1:]))
        np.add.at(sums, inverse.ravel(), self.data)
        counts = np.bincount(inverse.ravel(), minlength=len(uniq)).reshape(
            -1, *([1] * (self.data.ndim - 1))
        )
        avg = (sums / counts)[order].astype(self.data.dtype, copy=False)
        trials = pd.DataFrame({by: uniq[order], "n_repeats": counts.ravel()[order]})
        return TrialSet(
            avg, trials, self.times, self.modality, self.space, self.subject, dict(self.metadata)
        )

    def to_repeats(self, by: str = "stim_id", n_repeats: int | None = None) -> np.ndarray:
        """Stack repeats as ``(n_repeats, n_stimuli, n_targets[, n_times])``.

        Stimuli with fewer than ``n_repeats`` presentations are dropped; ``n_repeats``
        defaults to the smallest count (at least 2) among the stimuli shown more than once,
        so that every repeated stimulus is kept. The output has the dtype of ``data``.
        """
        ids = self._stim_column(by)
        uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
        if n_repeats is None:
            if not np.any(counts >= 2):
                raise ValueError(
                    f"`to_repeats` needs stimuli shown at least twice; got at most "
                    f"{int(counts.max())} presentation(s) per `{by}` value"
                )
            n_repeats = int(counts[counts >= 2].min())
        elif int(n_repeats) != n_repeats or n_repeats < 2 or n_repeats > counts.max():
            raise ValueError(
                f"`n_repeats` must be an integer between 2 and the largest number of "
                f"presentations of a stimulus ({int(counts.max())}); got {n_repeats!r}"
            )
        n_repeats = int(n_repeats)
        keep = uniq[counts >= n_repeats][np.argsort(first[counts >= n_repeats])]
        out = np.empty((n_repeats, len(keep), *self.data.shape[1:]), dtype=self.data.dtype)
        for j, sid in enumerate(keep):
            idx = np.flatnonzero(ids == sid)[:n_repeats]
            out[:, j] = self.data[idx]
        return out

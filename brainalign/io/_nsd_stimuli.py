"""NSD stimuli: lazy access to ``nsd_stimuli.hdf5['imgBrick']`` by 0-based 73k id.

``imgBrick`` is ``(73000, 425, 425, 3)`` uint8, one row per image, indexed by the 0-based
73k id (``nsdId`` of ``nsd_stim_info_merged.csv``, ``stim_id`` of
:func:`~brainalign.io.read_nsd`). See ``data-formats.md`` §2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.exceptions import DataFormatError
from brainalign.io._files import file_or_root, open_hdf5, require_keys

__all__ = ["STIMULI_PATH", "NSDStimuli", "read_nsd_stimuli"]

PathLike = str | os.PathLike[str]

#: Where the stimulus file sits under the NSD root.
STIMULI_PATH = "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
_WHAT = "NSD stimuli file (nsd_stimuli.hdf5)"


class NSDStimuli:
    """Lazy access to ``nsd_stimuli.hdf5['imgBrick']`` by 0-based 73k id.

    Only the requested rows are read. Use it as a context manager, or call :meth:`close`.

    Examples
    --------
    >>> with read_nsd_stimuli(nsd_root) as stimuli:  # doctest: +SKIP
    ...     images = stimuli[[2950, 2990]]  # (2, 425, 425, 3) uint8
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._h5 = open_hdf5(path, _WHAT)
        try:
            require_keys(self._h5, ["imgBrick"], _WHAT)
            ds = self._h5["imgBrick"]
            if ds.ndim != 4 or ds.shape[-1] != 3:
                raise DataFormatError(
                    f"`imgBrick` in {str(path)!r} must have shape (n_images, height, width, 3); "
                    f"got {ds.shape}"
                )
        except Exception:
            self._h5.close()
            raise
        self._ds = ds

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_images, height, width, 3)``."""
        return tuple(self._ds.shape)

    def __len__(self) -> int:
        return int(self._ds.shape[0])

    def __getitem__(self, stim_id: Any) -> np.ndarray:
        """Images by 0-based 73k id: ``(height, width, 3)`` for one id, else ``(n, h, w, 3)``."""
        ids = np.asarray(stim_id)
        if ids.ndim == 1 and ids.size == 0:
            ids = ids.astype(np.int64)
        if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer) or ids.ndim > 1:
            raise TypeError(
                f"`stim_id` must be an integer 73k id or a 1-D sequence of them; got "
                f"{type(stim_id).__name__} with dtype {ids.dtype} and shape {ids.shape}"
            )
        flat = ids.ravel()
        bad = flat[(flat < 0) | (flat >= len(self))]
        if bad.size:
            raise IndexError(
                f"`stim_id` must be 0-based 73k ids in [0, {len(self)}); got {int(bad[0])} "
                f"(the design's 1-based ids must be decremented)"
            )
        # h5py reads fancy indices only when sorted and unique
        uniq, inverse = np.unique(flat, return_inverse=True)
        if not uniq.size:
            return np.empty((0, *self.shape[1:]), dtype=self._ds.dtype)
        block = self._ds[uniq.tolist()]
        out = np.asarray(block)[inverse.ravel()]
        return out[0] if ids.ndim == 0 else out

    def get(self, stim_id: int) -> np.ndarray:
        """One image ``(height, width, 3)`` uint8 (the ``StimulusStore`` protocol)."""
        return self[int(stim_id)]

    def close(self) -> None:
        """Close the HDF5 file."""
        self._h5.close()

    def __enter__(self) -> NSDStimuli:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NSDStimuli({str(self.path)!r}, shape={self.shape})"


def read_nsd_stimuli(path: PathLike) -> NSDStimuli:
    """Open ``nsd_stimuli.hdf5`` for lazy access to images by 0-based 73k id.

    Parameters
    ----------
    path : path-like
        The HDF5 file, or the NSD root (``nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5``).

    Returns
    -------
    stimuli : NSDStimuli
        ``stimuli[ids]`` reads ``imgBrick[ids]``: uint8 ``(n, 425, 425, 3)`` in the real file.
        Nothing is read until indexed. Close it (or use ``with``) when done.
    """
    return NSDStimuli(file_or_root(path, STIMULI_PATH, _WHAT))

"""Encoders: brain responses from stimulus features (scikit-learn estimators).

- :class:`RidgeEncoder`: one ridge penalty per target, chosen by cross-validation.
- :class:`BandedRidgeEncoder`: one penalty per feature band and per target.
- :class:`TRFEncoder`: temporal response functions (lagged ridge) for M/EEG and iEEG.
- :func:`fit_targets_in_chunks`: fit or cross-validate any of them over target chunks read
  from HDF5/zarr, resumably, serially or on Dask (:mod:`brainalign.parallel`).
"""

from brainalign.encoders._banded_ridge import BandedRidgeEncoder
from brainalign.encoders._base import DEFAULT_ALPHAS
from brainalign.encoders._chunked import ChunkedResult, fit_targets_in_chunks
from brainalign.encoders._ridge import RidgeEncoder
from brainalign.encoders._trf import TRFEncoder

__all__ = [
    "DEFAULT_ALPHAS",
    "BandedRidgeEncoder",
    "ChunkedResult",
    "RidgeEncoder",
    "TRFEncoder",
    "fit_targets_in_chunks",
]

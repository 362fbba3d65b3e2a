"""Alignment of stimulus features to brain recordings.

Resampling (Lanczos, window mean), HRF convolution, FIR delays, trimming, per-run z-scoring,
and :func:`make_design`, which chains them run by run into a :class:`brainalign.data.Design`.
Every public function takes and returns times in seconds.
"""

from brainalign.alignment._delayer import Delayer
from brainalign.alignment._design import RESAMPLE_METHODS, make_design
from brainalign.alignment._detrend import detrend_runs
from brainalign.alignment._hrf import HRF_MODELS, hrf_convolve
from brainalign.alignment._lanczos import lanczos_kernel, lanczos_resample
from brainalign.alignment._trim import trim, trim_mask
from brainalign.alignment._window import window_mean_resample
from brainalign.alignment._zscore import zscore_runs

__all__ = [
    "HRF_MODELS",
    "RESAMPLE_METHODS",
    "Delayer",
    "detrend_runs",
    "hrf_convolve",
    "lanczos_kernel",
    "lanczos_resample",
    "make_design",
    "trim",
    "trim_mask",
    "window_mean_resample",
    "zscore_runs",
]

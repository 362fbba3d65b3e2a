"""Synthetic encoding data with planted banded weights, a known response model and SNR."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_choice, check_positive
from brainalign.data import Design, Recording, Space

__all__ = ["SyntheticEncodingData", "SyntheticTruth", "make_encoding_data"]


@dataclass(eq=False)
class SyntheticTruth:
    """What generated the synthetic responses.

    Attributes
    ----------
    weights : dict of str to ndarray, shape (n_delays, n_features_band, n_targets)
        Planted weights per band on the response-model features (``n_delays`` is 1 for the
        ``"hrf"`` and ``"none"`` response models). Each band's contribution is scaled so its
        variance equals its share.
    band_shares : ndarray, shape (n_bands, n_targets)
        Fraction of the signal variance that each band carries (columns sum to 1).
    snr : ndarray, shape (n_targets,)
        Signal variance / noise variance per target.
    signal : ndarray, shape (n_samples, n_targets)
        Noise-free responses (the oracle prediction).
    noise : ndarray, shape (n_samples, n_targets)
    response_bands : dict of str to ndarray, shape (n_samples, n_features_band * n_delays)
        The features after the response model (HRF-convolved, or FIR-delayed, per run):
        a model fitted on these is exactly specified.
    response : str
        ``"hrf"``, ``"fir"`` or ``"none"``.
    delays : ndarray
        FIR delays in seconds (``"fir"`` only).
    """

    weights: dict[str, np.ndarray]
    band_shares: np.ndarray
    snr: np.ndarray
    signal: np.ndarray
    noise: np.ndarray
    response_bands: dict[str, np.ndarray]
    response: str
    delays: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hrf_model: str | None = None


@dataclass(eq=False)
class SyntheticEncodingData:
    """Stimulus features, responses and run labels, with the ground truth.

    Attributes
    ----------
    bands : dict of str to ndarray, shape (n_samples, n_features_band)
        Stimulus features on the sample grid, before the response model.
    Y : ndarray, shape (n_samples, n_targets)
    groups : ndarray, shape (n_samples,)
        Run index of each sample.
    times : ndarray, shape (n_samples,)
        Sample times within each run (seconds, sample starts).
    sfreq : float
    truth : SyntheticTruth
    """

    bands: dict[str, np.ndarray]
    Y: np.ndarray
    groups: np.ndarray
    times: np.ndarray
    sfreq: float
    truth: SyntheticTruth

    @property
    def band_names(self) -> list[str]:
        return list(self.bands)

    def to_design(self, response_features: bool = True) -> Design:
        """A :class:`~brainalign.data.Design`; with ``response_features`` the bands are the
        response-model features (an exactly specified model), else the raw stimulus features.
        """
        bands = self.truth.response_bands if response_features else self.bands
        return Design(
            dict(bands),
            self.Y,
            self.groups,
            self.times,
            metadata={
                "source": "make_encoding_data",
                "response": self.truth.response,
                "response_features": response_features,
            },
        )

    def to_recordings(self) -> tuple[list[Recording], list[dict[str, np.ndarray]]]:
        """One :class:`~brainalign.data.Recording` per run and the matching on-grid features,
        ready for :func:`brainalign.alignment.make_design`."""
        recs, feats = [], []
        for run in np.unique(self.groups):
            m = self.groups == run
            recs.append(
                Recording(
                    self.Y[m],
                    self.sfreq,
                    "fmri",
                    times=self.times[m],
                    space=Space.generic(self.Y.shape[1]),
                    run=str(run),
                )
            )
            feats.append({k: v[m] for k, v in self.bands.items()})
        return recs, feats


def _hrf_kernel(sfreq: float, hrf_model: str) -> np.ndarray:
    from nilearn.glm.first_level import glover_hrf, spm_hrf

    check_choice(hrf_model, "hrf_model", ("glover", "spm"))
    fn = glover_hrf if hrf_model == "glover" else spm_hrf
    return fn(1.0 / sfreq, oversampling=1, time_length=32.0)


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(x)
    if k == 0:
        out[:] = x
    elif k > 0:
        out[k:] = x[:-k]
    else:
        out[:k] = x[-k:]
    return out


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    e = rng.standard_normal(shape)
    if phi == 0:
        return e
    out = np.empty_like(e)
    out[0] = e[0]
    scale = np.sqrt(1 - phi**2)
    for t in range(1, shape[0]):
        out[t] = phi * out[t - 1] + scale * e[t]
    return out


def make_encoding_data(
    *,
    n_runs: int = 4,
    n_samples_per_run: int = 300,
    band_sizes: dict[str, int] | None = None,
    n_targets: int = 200,
    sfreq: float = 0.5,
    response: str = "hrf",
    hrf_model: str = "glover",
    delays: Any = (2.0, 4.0, 6.0, 8.0),
    snr: float | tuple[float, float] = (0.3, 3.0),
    band_shares: Any = None,
    feature_autocorrelation: float = 0.3,
    noise_autocorrelation: float = 0.0,
    dtype: Any = np.float64,
    random_state: int | np.random.Generator | None = None,
) -> SyntheticEncodingData:
    """Simulate responses to banded stimulus features with planted weights.

    For each run, stimulus features are drawn per band (unit-variance AR(1) processes), passed
    through the response model within the run (``"hrf"``: convolution with a canonical HRF
    sampled at the sample times; ``"fir"``: random weights per delay; ``"none"``: instantaneous),
    multiplied by Gaussian weights, scaled so that band ``b`` carries a share ``s_b`` of the
    signal variance of each target, and summed. Noise is added at the per-target SNR.

    Parameters
    ----------
    n_runs, n_samples_per_run : int
    band_sizes : dict of str to int
        Features per band; default ``{"semantic": 40, "lowlevel": 10}``.
    n_targets : int
    sfreq : float
        Sampling rate in Hz (0.5 = TR of 2 s).
    response : {"hrf", "fir", "none"}
    hrf_model : {"glover", "spm"}
    delays : sequence of float
        FIR delays in seconds (multiples of ``1/sfreq``) for ``response="fir"``.
    snr : float or (low, high)
        Signal-to-noise variance ratio per target; a pair draws it log-uniformly.
    band_shares : ndarray, shape (n_bands, n_targets) or None
        Planted share of signal variance per band; default Dirichlet(1) draws per target
        (mixed weighting).
    feature_autocorrelation, noise_autocorrelation : float
        AR(1) coefficients (in [0, 1)).
    dtype : numpy dtype
    random_state : int, Generator or None

    Returns
    -------
    SyntheticEncodingData
    """
    rng = np.random.default_rng(random_state)
    band_sizes = dict(band_sizes or {"semantic": 40, "lowlevel": 10})
    if not band_sizes or any(int(v) < 1 for v in band_sizes.values()):
        raise ValueError(f"`band_sizes` must map band names to sizes >= 1; got {band_sizes}")
    check_choice(response, "response", ("hrf", "fir", "none"))
    sfreq = check_positive(sfreq, "sfreq")
    if n_runs < 1 or n_samples_per_run < 2 or n_targets < 1:
        raise ValueError(
            "`n_runs` >= 1, `n_samples_per_run` >= 2 and `n_targets` >= 1 are required; got "
            f"{n_runs}, {n_samples_per_run}, {n_targets}"
        )
    for name, val in (
        ("feature_autocorrelation", feature_autocorrelation),
        ("noise_autocorrelation", noise_autocorrelation),
    ):
        if not 0 <= val < 1:
            raise ValueError(f"`{name}` must be in [0, 1); got {val}")
    names = list(band_sizes)
    n_bands = len(names)
    if band_shares is None:
        shares = rng.dirichlet(np.ones(n_bands), size=n_targets).T
    else:
        shares = np.asarray(band_shares, dtype=float)
        if shares.shape != (n_bands, n_targets) or np.any(shares < 0):
            raise ValueError(
                f"`band_shares` must be a non-negative array of shape (n_bands, n_targets) = "
                f"({n_bands}, {n_targets}); got {shares.shape}"
            )
        shares = shares / np.where(shares.sum(0) > 0, shares.sum(0), 1.0)
    if np.ndim(snr) == 0:
        snrs = np.full(n_targets, check_positive(snr, "snr"))
    else:
        lo, hi = (check_positive(v, "snr") for v in snr)
        snrs = np.exp(rng.uniform(np.log(lo), np.log(hi), n_targets))

    delay_s = np.asarray(delays, dtype=float) if response == "fir" else np.zeros(1)
    shifts = np.round(delay_s * sfreq).astype(int)
    if response == "fir" and not np.allclose(shifts / sfreq, delay_s, atol=1e-6):
        raise ValueError(
            f"`delays` must be multiples of the sample period {1 / sfreq:g} s; got {delay_s.tolist()}"
        )
    kernel = _hrf_kernel(sfreq, hrf_model) if response == "hrf" else None

    n_total = n_runs * n_samples_per_run
    groups = np.repeat(np.arange(n_runs), n_samples_per_run)
    times = np.tile(np.arange(n_samples_per_run) / sfreq, n_runs)
    bands: dict[str, np.ndarray] = {}
    resp_bands: dict[str, np.ndarray] = {}
    for name in names:
        p = int(band_sizes[name])
        x = np.concatenate(
            [_ar1(rng, (n_samples_per_run, p), feature_autocorrelation) for _ in range(n_runs)]
        )
        bands[name] = x
        per_run = []
        for run in range(n_runs):
            xr = x[groups == run]
            if response == "hrf":
                conv = np.apply_along_axis(lambda c: np.convolve(c, kernel)[: len(c)], 0, xr)
                per_run.append(conv)
            else:
                per_run.append(np.concatenate([_shift(xr, k) for k in shifts], axis=1))
        resp_bands[name] = np.concatenate(per_run)

    signal = np.zeros((n_total, n_targets))
    weights = {}
    for b, name in enumerate(names):
        r = resp_bands[name]
        w = rng.standard_normal((r.shape[1], n_targets)) / np.sqrt(r.shape[1])
        s = r @ w
        sd = s.std(0)
        scale = np.sqrt(shares[b]) / np.where(sd > 0, sd, 1.0)
        w = w * scale
        signal += r @ w
        weights[name] = w.reshape(len(shifts), -1, n_targets)
    signal -= signal.mean(0)
    noise = _ar1(rng, (n_total, n_targets), noise_autocorrelation)
    sig_var = signal.var(0)
    noise *= np.sqrt(sig_var / snrs) / noise.std(0)
    Y = signal + noise
    truth = SyntheticTruth(
        weights=weights,
        band_shares=shares,
        snr=snrs,
        signal=signal.astype(dtype),
        noise=noise.astype(dtype),
        response_bands={k: v.astype(dtype) for k, v in resp_bands.items()},
        response=response,
        delays=delay_s if response == "fir" else np.zeros(0),
        hrf_model=hrf_model if response == "hrf" else None,
    )
    return SyntheticEncodingData(
        bands={k: v.astype(dtype) for k, v in bands.items()},
        Y=Y.astype(dtype),
        groups=groups,
        times=times,
        sfreq=sfreq,
        truth=truth,
    )

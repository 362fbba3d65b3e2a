"""`make_design`: recordings + features -> a `Design` (resample, delays/HRF, trim, z-score)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from brainalign._logging import logger, progress
from brainalign._validation import check_array, check_choice
from brainalign.alignment._delayer import Delayer
from brainalign.alignment._hrf import HRF_MODELS, hrf_convolve
from brainalign.alignment._lanczos import lanczos_resample
from brainalign.alignment._trim import _trim_samples, trim_mask
from brainalign.alignment._window import window_mean_resample
from brainalign.alignment._zscore import zscore_runs
from brainalign.data import Design, FeatureSet, Recording

__all__ = ["make_design"]

RESAMPLE_METHODS = ("lanczos", "window")
_TIME_TOL = 1e-9  # seconds of slack when checking that items fall inside a run
_SFREQ_RTOL = 1e-9


def _check_inputs(
    recordings: Any,
    features: Any,
    resample: str,
    lanczos_window: Any,
    delays: Any,
    hrf_model: Any,
    trim: Any,
) -> tuple[list[Recording], list[dict[str, Any]], float, np.ndarray | None, tuple[int, int]]:
    """All the checks of :func:`make_design`; returns cleaned inputs."""
    if isinstance(recordings, Recording):
        raise TypeError(
            "`recordings` must be a sequence of Recording (one per run); got a single "
            "Recording. Wrap it in a list: make_design([rec], [features])."
        )
    if not isinstance(recordings, Sequence) or len(recordings) == 0:
        raise TypeError(
            f"`recordings` must be a non-empty sequence of Recording (one per run); got "
            f"{type(recordings).__name__}"
        )
    for i, rec in enumerate(recordings):
        if not isinstance(rec, Recording):
            raise TypeError(
                f"`recordings[{i}]` must be a brainalign.data.Recording; got {type(rec).__name__}"
            )
    if isinstance(features, Mapping) or not isinstance(features, Sequence):
        raise TypeError(
            "`features` must be a sequence with one mapping band_name -> FeatureSet or array per "
            f"run; got {type(features).__name__}. Wrap a single run's mapping in a list."
        )
    if len(features) != len(recordings):
        raise ValueError(
            f"`features` must have one mapping per recording; got {len(recordings)} recordings "
            f"and {len(features)} feature mappings"
        )
    check_choice(resample, "resample", RESAMPLE_METHODS)
    if hrf_model is not None:
        check_choice(hrf_model, "hrf_model", [*HRF_MODELS, None])
    if delays is not None and hrf_model is not None:
        raise ValueError(
            f"`delays` and `hrf_model` are exclusive; got delays={np.atleast_1d(delays).tolist()} "
            f"and hrf_model={hrf_model!r}. Use FIR delays (free response shape) or an HRF "
            f"(fixed shape), not both: set one of them to None."
        )
    if int(lanczos_window) != lanczos_window or lanczos_window < 1:
        raise ValueError(f"`lanczos_window` must be a positive integer; got {lanczos_window!r}")

    sfreq = recordings[0].sfreq
    for i, rec in enumerate(recordings[1:], start=1):
        if abs(rec.sfreq - sfreq) > _SFREQ_RTOL * sfreq:
            raise ValueError(
                f"TR mismatch between runs: recordings[{i}] has sfreq={rec.sfreq:g} Hz "
                f"(TR={rec.tr:g} s) but recordings[0] has sfreq={sfreq:g} Hz (TR={1 / sfreq:g} "
                f"s). Build one design per acquisition protocol or resample the data first."
            )
        if rec.n_targets != recordings[0].n_targets:
            raise ValueError(
                f"`recordings[{i}]` must have as many targets as recordings[0]; got "
                f"{rec.n_targets} and {recordings[0].n_targets}. Use the same mask / space "
                f"for every run."
            )

    if not (isinstance(trim, Sequence) and len(trim) == 2):
        raise ValueError(
            f"`trim` must be a pair (start, end) of seconds removed at each run start / end; "
            f"got {trim!r}"
        )
    _, n_start, n_end = _trim_samples(sfreq, trim[0], trim[1])
    delay_samples = None
    if delays is not None:
        delay_samples = Delayer(delays, sfreq)._check_delays()

    cleaned = []
    band_names: list[str] | None = None
    for i, (rec, mapping) in enumerate(zip(recordings, features)):
        if not isinstance(mapping, Mapping) or not mapping:
            raise TypeError(
                f"`features[{i}]` must be a non-empty mapping band_name -> FeatureSet or array; "
                f"got {type(mapping).__name__}"
            )
        names = [str(k) for k in mapping]
        if band_names is None:
            band_names = names
        elif set(names) != set(band_names):
            missing = sorted(set(band_names) - set(names))
            extra = sorted(set(names) - set(band_names))
            raise ValueError(
                f"Band names differ between runs: features[{i}] has bands {names} but "
                f"features[0] has {band_names} (missing {missing}, extra {extra}). Every run "
                f"needs the same bands."
            )
        run = {}
        for name, value in mapping.items():
            where = f"features[{i}][{str(name)!r}]"
            run[str(name)] = _check_band(value, where, rec, i)
        cleaned.append({n: run[n] for n in band_names})
    return list(recordings), cleaned, float(sfreq), delay_samples, (n_start, n_end)


def _check_band(value: Any, where: str, rec: Recording, i: int) -> FeatureSet | np.ndarray:
    if isinstance(value, FeatureSet):
        if len(value.layers) != 1:
            raise ValueError(
                f"`{where}` must be a FeatureSet with exactly one layer; got layers "
                f"{value.layer_names}. Pick one with fs.select({value.layer_names[0]!r}) or "
                f"make one band per layer."
            )
        lo, hi = float(value.times.min()), float(value.times.max())
        if lo < rec.start - _TIME_TOL or hi > rec.stop + _TIME_TOL:
            n_out = int(
                np.sum((value.times < rec.start - _TIME_TOL) | (value.times > rec.stop + _TIME_TOL))
            )
            raise ValueError(
                f"`{where}` has {n_out} item times outside run {i}, which spans "
                f"[{rec.start:g}, {rec.stop:g}] s; got item times from {lo:g} to {hi:g} s. "
                f"Feature times must be on the run clock (seconds, as recordings[{i}].times): "
                f"shift them or drop the items outside the run."
            )
        return value
    if isinstance(value, np.ndarray):
        arr = check_array(value, where, ndim=2, shape_doc="(n_times, n_dims)")
        if arr.shape[0] != rec.n_times:
            raise ValueError(
                f"`{where}` is an on-grid array and must have one row per sample of "
                f"recordings[{i}] ({rec.n_times}); got shape {arr.shape}. Pass a FeatureSet "
                f"(with times) to resample event-locked features."
            )
        return arr
    raise TypeError(
        f"`{where}` must be a FeatureSet or an ndarray (n_times, n_dims) on the sample grid; "
        f"got {type(value).__name__}"
    )


def make_design(
    recordings: Sequence[Recording],
    features: Sequence[Mapping[str, FeatureSet | np.ndarray]],
    *,
    resample: str = "lanczos",
    lanczos_window: int = 3,
    delays: Sequence[float] | None = None,
    hrf_model: str | None = None,
    trim: tuple[float, float] = (0.0, 0.0),
    zscore: bool = True,
    verbose: bool | None = None,
) -> Design:
    """Align features to recordings, run by run, and stack them into a :class:`Design`.

    Every step works within one run, so nothing leaks from a run into the next. Per run:

    1. **Resample** each band onto ``rec.times``: a :class:`~brainalign.data.FeatureSet`
       (event-locked, one layer) with :func:`lanczos_resample` (``resample="lanczos"``,
       Huth-lab convention, cutoff ``1 / TR``) or :func:`window_mean_resample`
       (``resample="window"``, width one TR, aligned on the acquisition: ``align="start"``
       when ``rec.sample_point == "start"``, ``"center"`` when it is ``"middle"``). When
       ``hrf_model`` is set, a FeatureSet is instead convolved with the HRF straight at
       ``rec.times`` (:func:`hrf_convolve`); an on-grid array is used as is, or convolved on
       the grid (each sample an impulse) when ``hrf_model`` is set.
    2. **FIR delays** (:class:`Delayer`) when ``delays`` is set.
    3. **Trim** ``trim = (start, end)`` seconds at the start and end of the run.
    4. **Z-score** (if ``zscore``) every column of every band and of ``Y`` over the kept
       samples (:func:`zscore_runs`).

    Parameters
    ----------
    recordings : sequence of Recording
        One per run, all with the same ``sfreq`` and number of targets.
    features : sequence of mapping str -> FeatureSet or ndarray
        One mapping per run, with the same band names in every run. A FeatureSet must hold
        exactly one layer with item times on the run clock, inside the run; an ndarray must
        be ``(rec.n_times, n_dims)``, already on the sample grid.
    resample : {"lanczos", "window"}
        How FeatureSets are brought onto the sample grid (ignored when ``hrf_model`` is set).
    lanczos_window : int
        Number of Lanczos lobes on each side.
    delays : sequence of float or None
        FIR delays in seconds (multiples of the TR; 0 and negative allowed). Each band gets
        ``n_delays * n_dims`` columns, delay-major. Exclusive with ``hrf_model``.
    hrf_model : str or None
        One of :data:`HRF_MODELS` (nilearn's SPM / Glover HRFs, optionally with derivatives);
        each band gets ``n_basis * n_dims`` columns, basis-major. Exclusive with ``delays``.
    trim : (float, float)
        Seconds removed at the start and at the end of every run; multiples of the TR.
    zscore : bool
        Z-score X columns and Y per run (population std; constant columns become 0).
    verbose : bool or None
        Show a progress bar over runs (see :func:`brainalign._logging.progress`).

    Returns
    -------
    Design
        ``bands[name]`` of shape (n_kept, n_columns), ``Y`` (n_kept, n_targets), ``groups``
        (run index 0, 1, ... of each sample), ``times`` (kept sample times, s, on each run's
        clock), ``space`` (from ``recordings[0]``) and ``metadata`` recording every step.
    """
    recordings, bands_per_run, sfreq, delay_samples, (n_start, n_end) = _check_inputs(
        recordings, features, resample, lanczos_window, delays, hrf_model, trim
    )
    band_names = list(bands_per_run[0])
    out_bands: dict[str, list[np.ndarray]] = {n: [] for n in band_names}
    ys, times, groups, aligns = [], [], [], []
    n_before, n_after = [], []
    for i in progress(range(len(recordings)), desc="make_design", verbose=verbose):
        rec = recordings[i]
        align = "center" if rec.sample_point == "middle" else "start"
        aligns.append(align)
        keep = trim_mask(np.full(rec.n_times, i), sfreq, start=trim[0], end=trim[1])
        for name in band_names:
            value = bands_per_run[i][name]
            x = _align_band(value, rec, resample, int(lanczos_window), hrf_model, align)
            if delay_samples is not None:
                x = Delayer(delays, sfreq).fit_transform(x)
            x = x[keep]
            out_bands[name].append(zscore_runs(x) if zscore else x)
        y = rec.data[keep]
        ys.append(zscore_runs(y) if zscore else y)
        times.append(rec.times[keep])
        groups.append(np.full(int(keep.sum()), i))
        n_before.append(rec.n_times)
        n_after.append(int(keep.sum()))
        logger.info("make_design: run %d, %d -> %d samples", i, rec.n_times, n_after[-1])

    steps = ["hrf" if hrf_model is not None else "resample"]
    steps += ["delays"] * (delays is not None) + ["trim"] * bool(n_start or n_end)
    steps += ["zscore"] * bool(zscore)
    metadata: dict[str, Any] = {
        "steps": steps,
        "resample": None
        if hrf_model is not None
        else (
            {"method": "lanczos", "lanczos_window": int(lanczos_window), "cutoff_mult": 1.0}
            if resample == "lanczos"
            else {"method": "window", "width_s": 1.0 / sfreq, "align": aligns}
        ),
        "hrf_model": hrf_model,
        "hrf": None
        if hrf_model is None
        else {"oversampling": 50, "time_length_s": 32.0, "orthogonalize": False},
        "delays": None
        if delays is None
        else {
            "seconds": [float(d) for d in np.atleast_1d(delays)],
            "samples": [int(d) for d in delay_samples],
        },
        "trim": {"seconds": (float(trim[0]), float(trim[1])), "samples": (n_start, n_end)},
        "zscore": bool(zscore),
        "sfreq": sfreq,
        "tr": 1.0 / sfreq,
        "band_sources": {
            n: "featureset" if isinstance(bands_per_run[0][n], FeatureSet) else "array"
            for n in band_names
        },
        "n_samples_per_run": {"before_trim": n_before, "after_trim": n_after},
    }
    return Design(
        bands={n: np.concatenate(v, axis=0) for n, v in out_bands.items()},
        Y=np.concatenate(ys, axis=0),
        groups=np.concatenate(groups),
        times=np.concatenate(times),
        space=recordings[0].space,
        metadata=metadata,
    )


def _align_band(
    value: FeatureSet | np.ndarray,
    rec: Recording,
    resample: str,
    lanczos_window: int,
    hrf_model: str | None,
    align: str,
) -> np.ndarray:
    """One band of one run on the sample grid ``rec.times``, shape (n_times, n_columns)."""
    if isinstance(value, FeatureSet):
        vals, t = next(iter(value.layers.values())), value.times
        if hrf_model is not None:
            return hrf_convolve(vals, t, rec.times, hrf_model=hrf_model)
        if resample == "lanczos":
            return lanczos_resample(vals, t, rec.times, window=lanczos_window)
        return window_mean_resample(vals, t, rec.times, width=rec.tr, align=align)
    if hrf_model is not None:
        return hrf_convolve(value, rec.times, rec.times, hrf_model=hrf_model)
    return value

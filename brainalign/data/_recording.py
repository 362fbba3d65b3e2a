"""`Recording`: continuous brain data ``(n_times, n_targets)`` with events on the same clock."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from brainalign._validation import check_array, check_choice, check_positive, check_times
from brainalign.data._events import validate_events
from brainalign.data._space import FSAVERAGE_N_VERTICES, Space

__all__ = ["MODALITIES", "Recording"]

MODALITIES = ("fmri", "meg", "eeg", "ieeg", "other")
_SAMPLE_POINTS = ("start", "middle")


@dataclass(eq=False)
class Recording:
    """Continuous recording of one run.

    Parameters
    ----------
    data : ndarray, shape (n_times, n_targets)
        The signal, one column per voxel / vertex / parcel / channel.
    sfreq : float
        Sampling frequency in Hz (``1 / TR`` for fMRI).
    modality : {"fmri", "meg", "eeg", "ieeg", "other"}
    times : ndarray, shape (n_times,) or None
        Sample times in seconds on the run clock. Default ``arange(n_times) / sfreq``
        (shifted by half a sample when ``sample_point="middle"``).
    sample_point : {"start", "middle"}
        Whether ``times`` mark the start or the middle of each acquisition (TR).
    events : pandas.DataFrame or None
        Events table (see :func:`brainalign.data.validate_events`) on the same clock. Every
        onset must fall inside the run.
    space : Space or None
        What the targets are. Default: a generic space.
    subject, session, run, task : str or None
        BIDS-style entities.
    metadata : dict
        Anything else (trimming already applied, preprocessing, provenance).
    """

    data: np.ndarray
    sfreq: float
    modality: str = "other"
    times: np.ndarray | None = None
    sample_point: str = "start"
    events: Any = None
    space: Space | None = None
    subject: str | None = None
    session: str | None = None
    run: str | None = None
    task: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = check_array(self.data, "data", ndim=2, shape_doc="(n_times, n_targets)")
        self.sfreq = check_positive(self.sfreq, "sfreq")
        check_choice(self.modality, "modality", MODALITIES)
        check_choice(self.sample_point, "sample_point", _SAMPLE_POINTS)
        n_times = self.data.shape[0]
        offset = 0.5 / self.sfreq if self.sample_point == "middle" else 0.0
        if self.times is None:
            self.times = np.arange(n_times) / self.sfreq + offset
        else:
            self.times = check_times(self.times, "times", n=n_times)
            if n_times > 1:
                period = float(np.median(np.diff(self.times)))
                if abs(period * self.sfreq - 1.0) > 0.01:
                    raise ValueError(
                        f"`times` must be spaced by 1/sfreq = {1 / self.sfreq:g} s; got a median "
                        f"spacing of {period:g} s. Is `sfreq` given in Hz (1/TR for fMRI)?"
                    )
        if self.space is None:
            self.space = Space.generic(self.data.shape[1])
        elif self.space.n_targets != self.data.shape[1]:
            raise ValueError(
                f"`space` must describe {self.data.shape[1]} targets (data.shape[1]); got a "
                f"{self.space.kind} space with n_targets={self.space.n_targets}"
            )
        if self.events is not None:
            self.events = validate_events(self.events, start=self.start, stop=self.stop)

    # ------------------------------------------------------------------ properties
    @property
    def n_times(self) -> int:
        """Number of samples."""
        return int(self.data.shape[0])

    @property
    def n_targets(self) -> int:
        """Number of targets (columns of ``data``)."""
        return int(self.data.shape[1])

    @property
    def tr(self) -> float:
        """Sampling period in seconds (the TR for fMRI)."""
        return 1.0 / self.sfreq

    @property
    def start(self) -> float:
        """Start of the first acquisition, in seconds."""
        offset = 0.5 / self.sfreq if self.sample_point == "middle" else 0.0
        return float(self.times[0]) - offset

    @property
    def stop(self) -> float:
        """End of the last acquisition, in seconds."""
        return self.start + self.n_times / self.sfreq if self.n_times else self.start

    @property
    def duration(self) -> float:
        """Duration of the run in seconds."""
        return self.stop - self.start

    def copy(self, **changes: Any) -> Recording:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    def __repr__(self) -> str:
        ids = ", ".join(
            f"{k}={v!r}"
            for k, v in dict(subject=self.subject, run=self.run, task=self.task).items()
            if v is not None
        )
        n_ev = 0 if self.events is None else len(self.events)
        return (
            f"Recording({self.modality}, {self.n_times} samples x {self.n_targets} targets, "
            f"sfreq={self.sfreq:g} Hz, {n_ev} events{', ' + ids if ids else ''})"
        )

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_mne(
        cls, raw: Any, *, picks: Any = "data", modality: str | None = None, **kwargs: Any
    ) -> Recording:
        """Build a recording from an ``mne.io.Raw``; annotations become events.

        Sample times are ``raw.times`` (0 at the first sample). Annotation onsets are moved
        to that clock (``onset - raw.first_time``). The space holds the picked ``mne.Info``.
        """
        import mne
        import pandas as pd

        raw = raw.copy().pick(picks)
        info = raw.info
        if modality is None:
            types = set(raw.get_channel_types())
            if types & {"mag", "grad"}:
                modality = "meg"
            elif types & {"seeg", "ecog", "dbs"}:
                modality = "ieeg"
            elif types <= {"eeg"}:
                modality = "eeg"
            else:
                modality = "other"
        ann = raw.annotations
        events = None
        if len(ann):
            onset = np.asarray(ann.onset) - raw.first_time
            events = pd.DataFrame(
                {
                    "onset": onset,
                    "duration": np.asarray(ann.duration),
                    "type": list(ann.description),
                }
            )
            events = events.sort_values("onset", kind="stable")
        space = Space.sensors(info)
        if modality == "ieeg":
            pos = np.array([ch["loc"][:3] for ch in info["chs"]])
            coords = None if np.allclose(pos, 0) or np.isnan(pos).any() else pos
            space = Space.electrodes(info["ch_names"], coords, coord_frame="head")
            space.info = info
        del mne
        return cls(
            data=raw.get_data().T,
            sfreq=float(info["sfreq"]),
            modality=modality,
            times=np.asarray(raw.times, dtype=float),
            events=events,
            space=space,
            **kwargs,
        )

    def to_mne(self) -> Any:
        """An ``mne.io.RawArray`` with the events as annotations.

        The clock is kept relative to the first sample: ``raw.times`` starts at 0 at
        ``times[0]`` (``first_samp = round(times[0] * sfreq)``), and each annotation onset is
        ``onset - times[0]``. MNE cannot hold annotations before the first sample, so events
        earlier than ``times[0]`` (possible with ``sample_point="middle"``) raise an error
        rather than being dropped.
        """
        import mne

        info = self.space.info if self.space is not None else None
        if info is None:
            names = self.space.labels if self.space and self.space.labels else None
            names = names or [f"T{i:05d}" for i in range(self.n_targets)]
            ch_type = {"eeg": "eeg", "meg": "mag", "ieeg": "seeg"}.get(self.modality, "misc")
            info = mne.create_info(list(names), self.sfreq, ch_types=ch_type)
        if abs(info["sfreq"] - self.sfreq) > 1e-9:
            raise ValueError(
                f"`space.info['sfreq']` ({info['sfreq']}) differs from `sfreq` ({self.sfreq})"
            )
        first_samp = round(self.times[0] * self.sfreq)
        raw = mne.io.RawArray(self.data.T, info, first_samp=first_samp, verbose="error")
        if self.events is not None and len(self.events):
            early = self.events["onset"].to_numpy() < self.times[0]
            if early.any():
                raise ValueError(
                    f"`events` before the first sample ({self.times[0]:g} s) cannot become MNE "
                    f"annotations; got {int(early.sum())} such event(s), the first at "
                    f"{self.events['onset'].to_numpy()[early][0]:g} s. Crop them or shift the "
                    f"clock first."
                )
            ann = mne.Annotations(
                onset=self.events["onset"].to_numpy() - self.times[0],
                duration=self.events["duration"].to_numpy(),
                description=self.events["type"].astype(str).tolist(),
            )
            raw.set_annotations(ann)
        return raw

    @classmethod
    def from_nifti(
        cls,
        img: Any,
        *,
        mask_img: Any = None,
        masker: Any = None,
        tr: float | None = None,
        **kwargs: Any,
    ) -> Recording:
        """Mask a 4-D NIfTI image into ``(n_times, n_voxels)`` through a nilearn masker.

        Parameters
        ----------
        img : nibabel image or path
            4-D BOLD image.
        mask_img : nibabel image or path, optional
            Brain mask; a ``NiftiMasker`` is built from it.
        masker : nilearn masker, optional
            A ready masker (e.g. with smoothing or detrending). Exclusive with ``mask_img``.
        tr : float or None
            Repetition time in seconds. Default: the fourth zoom of the header.
        """
        import nibabel as nib

        if isinstance(img, (str, bytes)) or hasattr(img, "__fspath__"):
            img = nib.load(img)
        if len(img.shape) != 4:
            raise ValueError(f"`img` must be a 4-D image (x, y, z, time); got shape {img.shape}")
        if tr is None:
            zooms = img.header.get_zooms()
            unit = (
                img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else "sec"
            )
            tr = float(zooms[3]) if len(zooms) > 3 else 0.0
            if unit == "msec":
                tr /= 1000.0
            if tr <= 0:
                raise ValueError(
                    "`tr` must be given: the image header has no repetition time "
                    f"(pixdim[4]={tr}). Pass tr=... in seconds (e.g. from the JSON sidecar)."
                )
        if (mask_img is None) == (masker is None):
            raise ValueError(
                "Pass exactly one of `mask_img` or `masker`; got "
                f"mask_img={'set' if mask_img is not None else None}, "
                f"masker={'set' if masker is not None else None}"
            )
        if masker is None:
            from nilearn.maskers import NiftiMasker

            masker = NiftiMasker(mask_img=mask_img, standardize=None)
        if not hasattr(masker, "mask_img_"):
            # A masker given a mask is fitted without images (no mask computation).
            masker.fit() if getattr(masker, "mask_img", None) is not None else masker.fit(img)
        data = masker.transform(img)
        space = Space.volume(masker.mask_img_)
        return cls(data=data, sfreq=1.0 / float(tr), modality="fmri", space=space, **kwargs)

    @classmethod
    def from_surface(
        cls,
        left: Any,
        right: Any,
        *,
        tr: float,
        mesh: str = "fsaverage5",
        **kwargs: Any,
    ) -> Recording:
        """Concatenate per-hemisphere arrays ``(n_times, n_vertices_hemi)``, left then right."""
        left = check_array(left, "left", ndim=2, shape_doc="(n_times, n_vertices_left)")
        right = check_array(right, "right", ndim=2, shape_doc="(n_times, n_vertices_right)")
        expected = FSAVERAGE_N_VERTICES.get(mesh)
        for name, arr in (("left", left), ("right", right)):
            if expected is not None and arr.shape[1] != expected:
                raise ValueError(
                    f"`{name}` must have {expected} vertices for mesh {mesh!r}; got "
                    f"{arr.shape[1]} (shape {arr.shape}). Transposed (n_vertices, n_times)?"
                )
        if left.shape[0] != right.shape[0]:
            raise ValueError(
                f"`right` must have as many time points as `left`; got left.shape={left.shape}, "
                f"right.shape={right.shape}. Are the arrays (n_times, n_vertices)?"
            )
        space = Space.surface(mesh, {"left": left.shape[1], "right": right.shape[1]})
        return cls(
            data=np.concatenate([left, right], axis=1),
            sfreq=1.0 / check_positive(tr, "tr"),
            modality="fmri",
            space=space,
            **kwargs,
        )

"""`Space`: what a target is, and how per-target results go back to images and topomaps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from brainalign._validation import check_choice

__all__ = ["FSAVERAGE_N_VERTICES", "Space"]

#: Vertices per hemisphere of the FreeSurfer fsaverage meshes.
FSAVERAGE_N_VERTICES = {
    "fsaverage3": 642,
    "fsaverage4": 2562,
    "fsaverage5": 10242,
    "fsaverage6": 40962,
    "fsaverage7": 163842,
    "fsaverage": 163842,
}

SPACE_KINDS = ("volume", "surface", "parcels", "sensors", "electrodes", "generic")


@dataclass(eq=False)
class Space:
    """What the targets of a recording are.

    Use the constructors :meth:`volume`, :meth:`surface`, :meth:`parcels`, :meth:`sensors`,
    :meth:`electrodes` or :meth:`generic` rather than the raw initialiser.

    Attributes
    ----------
    kind : str
        One of ``volume``, ``surface``, ``parcels``, ``sensors``, ``electrodes``, ``generic``.
    n_targets : int
        Number of targets (voxels, vertices, parcels, channels).
    name : str or None
        E.g. ``"MNI152NLin2009cAsym"``, ``"fsaverage5"``, ``"schaefer400"``.
    mask : ndarray of bool, shape (nx, ny, nz) or None
        Volume mask; targets are the True voxels in C order.
    affine : ndarray, shape (4, 4) or None
        Volume affine.
    hemi_slices : dict of str to slice
        Surface: which targets belong to ``"left"`` and ``"right"``.
    labels : list of str or None
        Parcel labels or channel / electrode names, one per target.
    coords : ndarray, shape (n_targets, 3) or None
        Electrode coordinates (metres, in ``coord_frame``).
    info : mne.Info or None
        Sensors: the measurement info.
    """

    kind: str
    n_targets: int
    name: str | None = None
    mask: np.ndarray | None = None
    affine: np.ndarray | None = None
    hemi_slices: dict[str, slice] = field(default_factory=dict)
    labels: list[str] | None = None
    coords: np.ndarray | None = None
    coord_frame: str | None = None
    info: Any = None

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", SPACE_KINDS)
        if int(self.n_targets) < 1:
            raise ValueError(f"`n_targets` must be >= 1; got {self.n_targets}")
        self.n_targets = int(self.n_targets)
        if self.labels is not None and len(self.labels) != self.n_targets:
            raise ValueError(
                f"`labels` must have one entry per target ({self.n_targets}); got {len(self.labels)}"
            )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def generic(cls, n_targets: int, name: str | None = None) -> Space:
        """Targets with no spatial meaning (e.g. synthetic data)."""
        return cls("generic", n_targets, name=name)

    @classmethod
    def volume(cls, mask_img: Any, name: str | None = None) -> Space:
        """Voxels of a 3-D mask image (nibabel image or path); targets in C order."""
        import nibabel as nib

        img = (
            nib.load(mask_img)
            if isinstance(mask_img, (str, bytes)) or hasattr(mask_img, "__fspath__")
            else mask_img
        )
        data = np.asanyarray(img.dataobj)
        if data.ndim != 3:
            raise ValueError(f"`mask_img` must be a 3-D image; got shape {data.shape}")
        mask = data > 0
        if not mask.any():
            raise ValueError("`mask_img` must contain at least one non-zero voxel; got none")
        return cls("volume", int(mask.sum()), name=name, mask=mask, affine=np.asarray(img.affine))

    @classmethod
    def surface(cls, mesh: str = "fsaverage5", n_vertices: dict[str, int] | None = None) -> Space:
        """Vertices of both hemispheres of a mesh, left then right.

        Parameters
        ----------
        mesh : str
            Mesh name; the fsaverage family sets ``n_vertices`` automatically.
        n_vertices : dict or None
            ``{"left": n_left, "right": n_right}`` for other meshes.
        """
        if n_vertices is None:
            if mesh not in FSAVERAGE_N_VERTICES:
                raise ValueError(
                    f"`n_vertices` is required for mesh {mesh!r}; known meshes are "
                    f"{sorted(FSAVERAGE_N_VERTICES)}"
                )
            n = FSAVERAGE_N_VERTICES[mesh]
            n_vertices = {"left": n, "right": n}
        unknown = set(n_vertices) - {"left", "right"}
        if unknown:
            raise ValueError(f"`n_vertices` keys must be 'left'/'right'; got {sorted(unknown)}")
        slices, start = {}, 0
        for hemi in ("left", "right"):
            if hemi in n_vertices:
                slices[hemi] = slice(start, start + int(n_vertices[hemi]))
                start += int(n_vertices[hemi])
        return cls("surface", start, name=mesh, hemi_slices=slices)

    @classmethod
    def parcels(cls, labels: list[str], name: str | None = None) -> Space:
        """One target per parcel of an atlas."""
        return cls("parcels", len(labels), name=name, labels=[str(x) for x in labels])

    @classmethod
    def sensors(cls, info: Any) -> Space:
        """M/EEG sensors described by an ``mne.Info``."""
        return cls("sensors", len(info["ch_names"]), labels=list(info["ch_names"]), info=info)

    @classmethod
    def electrodes(
        cls, names: list[str], coords: Any = None, coord_frame: str | None = None
    ) -> Space:
        """Intracranial electrodes with optional coordinates ``(n_electrodes, 3)``."""
        xyz = None
        if coords is not None:
            xyz = np.asarray(coords, dtype=float)
            if xyz.shape != (len(names), 3):
                raise ValueError(
                    f"`coords` must have shape (n_electrodes, 3) = ({len(names)}, 3); "
                    f"got {xyz.shape}"
                )
        return cls(
            "electrodes", len(names), labels=list(names), coords=xyz, coord_frame=coord_frame
        )

    # ------------------------------------------------------------------ results back to images
    def _check_values(self, values: Any) -> np.ndarray:
        arr = np.asarray(values)
        if arr.shape[-1] != self.n_targets or arr.ndim not in (1, 2):
            raise ValueError(
                f"`values` must have shape (n_targets,) or (n_maps, n_targets) with "
                f"n_targets={self.n_targets} for this {self.kind} space; got {arr.shape}"
            )
        return arr

    def to_nifti(self, values: Any) -> Any:
        """Put per-voxel values back into a NIfTI image (3-D, or 4-D for several maps)."""
        import nibabel as nib

        if self.kind != "volume" or self.mask is None:
            raise ValueError(f"to_nifti needs a volume space; this space is {self.kind!r}")
        arr = self._check_values(values)
        maps = np.atleast_2d(arr)
        vol = np.zeros((*self.mask.shape, maps.shape[0]), dtype=np.float32)
        vol[self.mask] = maps.T
        if arr.ndim == 1:
            vol = vol[..., 0]
        return nib.Nifti1Image(vol, self.affine)

    def to_surface_arrays(self, values: Any) -> dict[str, np.ndarray]:
        """Split per-vertex values into ``{"left": ..., "right": ...}`` arrays."""
        if self.kind != "surface":
            raise ValueError(f"to_surface_arrays needs a surface space; this is {self.kind!r}")
        arr = self._check_values(values)
        return {hemi: arr[..., sl] for hemi, sl in self.hemi_slices.items()}

    def to_gifti(self, values: Any) -> dict[str, Any]:
        """Per-hemisphere ``nibabel.GiftiImage`` objects (one data array per map)."""
        import nibabel as nib

        out = {}
        for hemi, arr in self.to_surface_arrays(values).items():
            maps = np.atleast_2d(arr).astype(np.float32)
            darrays = [nib.gifti.GiftiDataArray(m) for m in maps]
            out[hemi] = nib.GiftiImage(darrays=darrays)
        return out

    def to_image(self, values: Any) -> Any:
        """NIfTI for volumes, per-hemisphere GIfTI for surfaces."""
        if self.kind == "volume":
            return self.to_nifti(values)
        if self.kind == "surface":
            return self.to_gifti(values)
        raise ValueError(
            f"to_image is defined for volume and surface spaces; this is a {self.kind!r} space "
            f"(use the per-target array with `labels`, or an mne topomap for sensors)"
        )

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name else ""
        return f"Space(kind={self.kind!r}, n_targets={self.n_targets}{extra})"

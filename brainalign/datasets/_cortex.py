"""Cortical regions on fsaverage meshes from the coordinate atlases bundled with nilearn."""

from __future__ import annotations

import numpy as np

from brainalign.data._space import FSAVERAGE_N_VERTICES

__all__ = ["fsaverage_networks"]


def fsaverage_networks(
    mesh: str = "fsaverage5", max_distance: float = 18.0
) -> tuple[np.ndarray, list[str]]:
    """Label each vertex of an fsaverage mesh with a functional network (Seitzman et al. 2018).

    The 300 Seitzman ROI centres (MNI mm, bundled with nilearn, no download) are matched to the
    nearest pial-surface vertex of the same hemisphere; every vertex within ``max_distance`` mm
    (Euclidean, on the pial surface) of an ROI centre takes the network of the nearest centre.
    fsaverage coordinates are in MNI305 space, close enough to MNI152 at this scale.

    Parameters
    ----------
    mesh : str
        An fsaverage mesh bundled with nilearn (``"fsaverage5"`` works offline).
    max_distance : float
        Radius in mm around each ROI centre.

    Returns
    -------
    labels : ndarray of int, shape (n_vertices_left + n_vertices_right,)
        Index into ``names``; ``-1`` for vertices far from every ROI.
    names : list of str
        Network names (``"DefaultMode"``, ``"Visual"``, ``"Auditory"`` ...).
    """
    from nilearn import datasets
    from scipy.spatial import cKDTree

    if mesh not in FSAVERAGE_N_VERTICES or mesh == "fsaverage":
        raise ValueError(f"`mesh` must be an fsaverage mesh such as 'fsaverage5'; got {mesh!r}")
    if not max_distance > 0:
        raise ValueError(f"`max_distance` must be > 0 mm; got {max_distance}")
    atlas = datasets.fetch_coords_seitzman_2018()
    xyz = atlas.rois[["x", "y", "z"]].to_numpy(dtype=float)
    nets = np.asarray(atlas.networks).astype(str)
    keep = nets != "unassigned"
    xyz, nets = xyz[keep], nets[keep]
    names = sorted(set(nets.tolist()))
    code = np.array([names.index(n) for n in nets])
    pial = datasets.load_fsaverage(mesh)["pial"]
    out = []
    for hemi, sign in (("left", -1.0), ("right", 1.0)):
        verts = np.asarray(pial.parts[hemi].coordinates, dtype=float)
        side = np.sign(xyz[:, 0]) == sign
        tree = cKDTree(xyz[side])
        dist, idx = tree.query(verts, k=1)
        lab = code[side][idx]
        lab[dist > max_distance] = -1
        out.append(lab)
    return np.concatenate(out), names

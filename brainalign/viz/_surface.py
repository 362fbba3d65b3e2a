"""Per-vertex maps on the fsaverage meshes bundled with nilearn."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign.data._space import FSAVERAGE_N_VERTICES, Space
from brainalign.viz._figures import _pyplot

__all__ = ["plot_surface_map"]

_VIEWS = ("lateral", "medial", "dorsal", "ventral", "anterior", "posterior")


def plot_surface_map(
    values: Any,
    space: Space | None = None,
    *,
    mesh: str = "fsaverage5",
    surface: str = "inflated",
    views: tuple[str, ...] = ("lateral", "medial"),
    title: str | None = None,
    cmap: Any = "inferno",
    vmin: float | None = None,
    vmax: float | None = None,
    threshold: float | None = None,
    symmetric: bool = False,
    colorbar_label: str | None = None,
    categories: list[str] | None = None,
) -> Any:
    """Plot one value per vertex of both hemispheres of an fsaverage mesh.

    Parameters
    ----------
    values : array-like, shape (n_vertices_left + n_vertices_right,)
        Left hemisphere first (the order of :meth:`Space.surface`). NaN vertices are left
        uncoloured.
    space : Space or None
        A surface space; default ``Space.surface(mesh)``.
    mesh : str
        An fsaverage mesh bundled with nilearn (``fsaverage5`` works offline).
    surface : {"inflated", "pial", "white_matter", "sphere"}
        Which geometry to draw on; sulcal depth shades the background.
    views : tuple of str
        Views per hemisphere, e.g. ``("lateral", "medial")``.
    title, cmap, vmin, vmax, threshold : optional
        Passed to nilearn's ``plot_surf_stat_map``; ``vmin``/``vmax`` default to robust
        percentiles (1st / 99th) of the finite values, shared by all panels.
    symmetric : bool
        Centre the colour scale on zero (for signed maps such as weights).
    colorbar_label : str or None
        Label under the shared colour bar.
    categories : list of str or None
        For label maps: ``values`` are indices into ``categories`` (NaN = none); a legend
        replaces the colour bar and the scale spans ``[0, len(categories) - 1]``.

    Returns
    -------
    matplotlib.figure.Figure
        One row of ``2 * len(views)`` brain panels and a shared colour bar.
    """
    plt = _pyplot()
    from nilearn import datasets, plotting

    if space is None:
        space = Space.surface(mesh)
    if space.kind != "surface":
        raise ValueError(f"`space` must be a surface space; got a {space.kind!r} space")
    mesh = space.name or mesh
    if mesh not in FSAVERAGE_N_VERTICES or mesh == "fsaverage":
        raise ValueError(
            f"`mesh` must be an fsaverage mesh bundled with nilearn (e.g. 'fsaverage5'); "
            f"got {mesh!r}"
        )
    bad = [v for v in views if v not in _VIEWS]
    if bad:
        raise ValueError(f"`views` must be among {_VIEWS}; got {bad}")
    per_hemi = space.to_surface_arrays(np.asarray(values, dtype=float))
    finite = np.concatenate([a[np.isfinite(a)] for a in per_hemi.values()])
    if finite.size == 0:
        raise ValueError("`values` has no finite value to plot")
    lo = float(np.percentile(finite, 1)) if vmin is None else float(vmin)
    hi = float(np.percentile(finite, 99)) if vmax is None else float(vmax)
    if categories is not None:
        lo, hi = 0.0, float(max(len(categories) - 1, 1))
    if symmetric:
        hi = max(abs(lo), abs(hi))
        lo = -hi
    if hi <= lo:
        hi = lo + 1e-12
    meshes = datasets.load_fsaverage(mesh)
    bg = datasets.load_fsaverage_data(mesh=mesh, mesh_type=surface, data_type="sulcal")
    hemis = list(per_hemi)
    n_panels = len(hemis) * len(views)
    fig = plt.figure(figsize=(2.4 * n_panels, 2.5))
    for k, (hemi, view) in enumerate((h, v) for h in hemis for v in views):
        ax = fig.add_subplot(1, n_panels, k + 1, projection="3d")
        plotting.plot_surf_stat_map(
            surf_mesh=meshes[surface].parts[hemi],
            stat_map=per_hemi[hemi],
            bg_map=bg.data.parts[hemi],
            hemi=hemi,
            view=view,
            cmap=cmap,
            colorbar=False,
            threshold=threshold,
            vmin=lo,
            vmax=hi,
            symmetric_cbar=False,
            axes=ax,
            figure=fig,
        )
        ax.set_box_aspect(None, zoom=1.45)
        ax.set_title(f"{hemi} {view}", fontsize=9, y=0.92)
    fig.subplots_adjust(left=0, right=1, bottom=0.16, top=0.9, wspace=0)
    if categories is None:
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(vmin=lo, vmax=hi))
        cax = fig.add_axes((0.35, 0.1, 0.3, 0.04))
        cbar = fig.colorbar(sm, cax=cax, orientation="horizontal")
        if colorbar_label:
            cbar.set_label(colorbar_label, fontsize=9)
    else:
        from matplotlib.patches import Patch

        cm = plt.get_cmap(cmap)
        handles = [
            Patch(color=cm((i - lo) / (hi - lo)), label=name) for i, name in enumerate(categories)
        ]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig

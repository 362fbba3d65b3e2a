"""Score plots: histograms against a null, layer-wise curves, per-band bars, response curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from brainalign.viz._figures import new_figure

__all__ = [
    "plot_layer_scores",
    "plot_null_distribution",
    "plot_response_curves",
    "plot_score_histogram",
]


def plot_score_histogram(
    scores: Any,
    null: Any = None,
    *,
    label: str = "held-out r",
    title: str | None = None,
    bins: int = 60,
) -> Any:
    """Histogram of per-target scores, optionally over a null distribution.

    Parameters
    ----------
    scores : array-like, shape (n_targets,)
        One score per target (NaN ignored).
    null : array-like or None
        Scores under the null (any shape; flattened), drawn as an outline.
    label, title : str
        Axis label and title.
    bins : int
        Number of bins shared by both histograms.

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = np.asarray(scores, dtype=float).ravel()
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ValueError("`scores` has no finite value to plot")
    fig, ax = new_figure(figsize=(5.2, 3.2))
    parts = [s]
    n = None if null is None else np.asarray(null, dtype=float).ravel()
    if n is not None:
        n = n[np.isfinite(n)]
        parts.append(n)
    edges = np.histogram_bin_edges(np.concatenate(parts), bins=bins)
    ax.hist(s, bins=edges, color="#3b6ea8", alpha=0.85, label=f"scores (median {np.median(s):.3f})")
    if n is not None and n.size:
        ax.hist(
            n,
            bins=edges,
            histtype="step",
            color="#c0392b",
            lw=1.5,
            density=False,
            weights=np.full(n.size, s.size / n.size),
            label="null (rescaled)",
        )
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel(label)
    ax.set_ylabel("targets")
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_layer_scores(
    layers: Sequence[Any],
    scores: Any,
    errors: Any = None,
    *,
    label: str = "mean held-out r",
    xlabel: str = "layer",
    title: str | None = None,
) -> Any:
    """A score per layer (e.g. mean held-out r over the best targets), with error bars.

    Parameters
    ----------
    layers : sequence, shape (n_layers,)
        Layer labels (indices or names).
    scores : array-like, shape (n_layers,)
    errors : array-like, shape (n_layers,) or None
        Half-widths of the error bars (e.g. the standard error across targets).
    """
    y = np.asarray(scores, dtype=float)
    if y.shape != (len(layers),):
        raise ValueError(f"`scores` must have shape ({len(layers)},) like `layers`; got {y.shape}")
    fig, ax = new_figure(figsize=(5.2, 3.2))
    x = np.arange(len(layers))
    ax.plot(x, y, "o-", color="#3b6ea8")
    if errors is not None:
        e = np.asarray(errors, dtype=float)
        ax.fill_between(x, y - e, y + e, color="#3b6ea8", alpha=0.2)
    best = int(np.nanargmax(y))
    ax.plot([x[best]], [y[best]], "*", ms=14, color="#e67e22", label=f"best: {layers[best]}")
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in layers], fontsize=7, rotation=90 if len(x) > 12 else 0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_response_curves(
    times: Any,
    curves: Mapping[str, Any],
    bands: Mapping[str, tuple[Any, Any]] | None = None,
    *,
    xlabel: str = "time after onset (s)",
    ylabel: str = "response",
    title: str | None = None,
) -> Any:
    """Response time courses (e.g. FIR estimates of the HRF) with confidence bands.

    Parameters
    ----------
    times : array-like, shape (n_times,)
        Time of each point (s).
    curves : mapping of str to array-like, shape (n_times,)
        One curve per condition.
    bands : mapping of str to (lower, upper) or None
        Lower and upper bounds per condition, each shape (n_times,).
    """
    t = np.asarray(times, dtype=float)
    fig, ax = new_figure(figsize=(5.6, 3.4))
    for i, (name, y) in enumerate(curves.items()):
        y = np.asarray(y, dtype=float)
        if y.shape != t.shape:
            raise ValueError(
                f"`curves[{name!r}]` must have shape {t.shape} like `times`; got {y.shape}"
            )
        color = f"C{i % 10}"
        ax.plot(t, y, "-", color=color, lw=1.6, label=name)
        if bands and name in bands:
            lo, hi = (np.asarray(b, dtype=float) for b in bands[name])
            ax.fill_between(t, lo, hi, color=color, alpha=0.18, lw=0)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=7, ncol=2)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_null_distribution(
    observed: float,
    null: Any,
    *,
    label: str = "score",
    chance: float | None = None,
    title: str | None = None,
) -> Any:
    """One observed score against its null distribution (permutations).

    Parameters
    ----------
    observed : float
        The score of the real model.
    null : array-like, shape (n_permutations,)
        Scores under the null.
    label : str
        Axis label.
    chance : float or None
        A theoretical chance level, drawn as a dashed line.
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = np.asarray(null, dtype=float).ravel()
    n = n[np.isfinite(n)]
    if n.size == 0:
        raise ValueError("`null` has no finite value")
    p = (1 + np.sum(n >= observed)) / (1 + n.size)
    fig, ax = new_figure(figsize=(5.2, 3.2))
    ax.hist(n, bins=min(40, max(10, n.size // 5)), color="#95a5a6", label=f"null ({n.size})")
    ax.axvline(observed, color="#c0392b", lw=2, label=f"observed {observed:.3f} (p = {p:.3g})")
    if chance is not None:
        ax.axvline(chance, color="k", ls="--", lw=1, label=f"chance {chance:.3f}")
    ax.set_xlabel(label)
    ax.set_ylabel("permutations")
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig

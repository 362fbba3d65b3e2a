import numpy as np
import pytest

from brainalign.data import Space
from brainalign.viz import (
    figure_to_data_uri,
    figure_to_png,
    plot_layer_scores,
    plot_response_curves,
    plot_score_histogram,
    plot_surface_map,
)


def _nonblank(png: bytes) -> float:
    """Fraction of non-white pixels of a PNG (the figure really drew something)."""
    import io

    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png))[..., :3]
    return float(np.mean(np.any(img < 0.95, axis=-1)))


def test_surface_map_draws_both_hemispheres():
    values = np.r_[np.linspace(0, 1, 10242), np.linspace(1, 0, 10242)]
    values[:100] = np.nan
    fig = plot_surface_map(values, title="planted", colorbar_label="share")
    assert len(fig.axes) == 5  # 4 brain panels + colour bar
    png = figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert _nonblank(png) > 0.1


def test_surface_map_errors():
    with pytest.raises(ValueError, match=r"shape \(n_targets,\).*n_targets=20484.*got \(5,\)"):
        plot_surface_map(np.zeros(5))
    with pytest.raises(ValueError, match="must be a surface space"):
        plot_surface_map(np.zeros(3), Space.generic(3))
    with pytest.raises(ValueError, match="no finite value"):
        plot_surface_map(np.full(20484, np.nan))
    with pytest.raises(ValueError, match="`views` must be among"):
        plot_surface_map(np.zeros(20484), views=("sideways",))


def test_score_plots():
    rng = np.random.default_rng(0)
    fig = plot_score_histogram(rng.normal(0.2, 0.1, 500), null=rng.normal(0, 0.05, 2000))
    assert _nonblank(figure_to_png(fig)) > 0.02
    fig = plot_layer_scores(list(range(5)), [0.1, 0.2, 0.3, 0.25, 0.2], [0.01] * 5)
    assert "best: 2" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    uri = figure_to_data_uri(fig)
    assert uri.startswith("data:image/png;base64,")
    t = np.arange(10.0)
    fig = plot_response_curves(t, {"a": np.sin(t)}, {"a": (np.sin(t) - 0.1, np.sin(t) + 0.1)})
    assert len(fig.axes[0].lines) >= 1
    with pytest.raises(ValueError, match="must have shape"):
        plot_layer_scores([0, 1], [0.1])
    with pytest.raises(ValueError, match=r"`curves\['a'\]` must have shape"):
        plot_response_curves(t, {"a": np.zeros(3)})
    with pytest.raises(ValueError, match="no finite value"):
        plot_score_histogram([np.nan])

"""Figure helpers: headless matplotlib, and figures as embeddable PNG data."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["figure_to_data_uri", "figure_to_png", "new_figure"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - matplotlib is in the viz extra
        raise ImportError("brainalign.viz needs matplotlib: pip install 'brainalign[viz]'") from err
    if matplotlib.get_backend().lower() not in (
        "agg",
        "pdf",
        "svg",
        "cairo",
        "module://matplotlib_inline.backend_inline",
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` on a non-interactive backend (safe on servers and in CI)."""
    plt = _pyplot()
    return plt.subplots(*args, **kwargs)


def figure_to_png(fig: Any, dpi: int = 110, close: bool = True) -> bytes:
    """Render a matplotlib figure to PNG bytes (and close it unless ``close=False``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    if close:
        _pyplot().close(fig)
    return buf.getvalue()


def figure_to_data_uri(fig: Any, dpi: int = 110, close: bool = True) -> str:
    """A ``data:image/png;base64,...`` URI that embeds the figure in an HTML page."""
    png = figure_to_png(fig, dpi=dpi, close=close)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

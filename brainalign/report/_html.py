"""A self-contained HTML report: sections of text, key figures, tables and embedded images."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._atomic import atomic_path

__all__ = ["Report"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2731;
background:#f5f6f8;line-height:1.45}
header{background:#1f3b57;color:#fff;padding:22px 36px}
header h1{margin:0;font-size:26px}header p{margin:6px 0 0;opacity:.85}
nav{background:#fff;border-bottom:1px solid #dde2e8;padding:8px 36px;font-size:14px}
nav a{margin-right:16px;color:#1f3b57;text-decoration:none}
main{max-width:1180px;margin:0 auto;padding:10px 24px 40px}
section{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:18px 0;padding:8px 22px 16px}
h2{color:#1f3b57;border-bottom:2px solid #e8ecf1;padding-bottom:4px}
figure{margin:14px 0;text-align:center}figure img{max-width:100%;height:auto}
figcaption{font-size:13px;color:#4a5866;margin-top:4px}
table{border-collapse:collapse;margin:10px 0;font-size:13px}
th,td{border:1px solid #dde2e8;padding:4px 9px;text-align:right}
th{background:#eef2f6}td:first-child,th:first-child{text-align:left}
caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0}
.card{background:#eef4fa;border-radius:8px;padding:10px 16px;min-width:150px}
.card .v{font-size:22px;font-weight:600;color:#1f3b57}.card .k{font-size:12px;color:#4a5866}
pre{background:#f0f2f5;padding:10px;overflow-x:auto;font-size:12px}
.note{font-size:13px;color:#4a5866}
"""


def _fmt(value: Any, float_fmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        return "–" if not np.isfinite(value) else format(float(value), float_fmt)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return html.escape(str(value))


def _image_src(image: Any) -> str:
    """A data URI from a matplotlib Figure, PNG bytes, or an existing data URI."""
    if isinstance(image, str):
        if not image.startswith("data:image/"):
            raise ValueError(
                "`image` strings must be data URIs ('data:image/...'); the report embeds every "
                f"figure and never links to files or URLs; got {image[:40]!r}"
            )
        return image
    if isinstance(image, (bytes, bytearray)):
        import base64

        if not bytes(image[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ValueError("`image` bytes must be a PNG file")
        return "data:image/png;base64," + base64.b64encode(bytes(image)).decode("ascii")
    if hasattr(image, "savefig"):
        from brainalign.viz._figures import figure_to_data_uri

        return figure_to_data_uri(image)
    raise TypeError(
        f"`image` must be a matplotlib Figure, PNG bytes or a data URI; got {type(image).__name__}"
    )


@dataclass
class _Section:
    title: str
    anchor: str
    blocks: list[str] = field(default_factory=list)


class Report:
    """Build a single-file HTML report (figures embedded as PNG data, no external requests).

    Parameters
    ----------
    title : str
        Page title.
    subtitle : str or None
        One line under the title.

    Examples
    --------
    >>> rep = Report("Encoding study")
    >>> rep.add_section("Scores", "Held-out correlation per vertex.")
    >>> rep.add_metrics({"median r": 0.21})
    >>> html_text = rep.to_html()
    """

    def __init__(self, title: str, subtitle: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.sections: list[_Section] = []
        self.n_figures = 0

    def _current(self) -> _Section:
        if not self.sections:
            self.add_section("Results")
        return self.sections[-1]

    def add_section(self, title: str, text: str | None = None) -> Report:
        """Start a new section; later blocks go into it."""
        anchor = f"s{len(self.sections) + 1}"
        self.sections.append(_Section(title, anchor))
        if text:
            self.add_text(text)
        return self

    def add_text(self, text: str) -> Report:
        """Paragraphs (blank-line separated); HTML is escaped."""
        for para in str(text).strip().split("\n\n"):
            self._current().blocks.append(f"<p>{html.escape(para.strip())}</p>")
        return self

    def add_note(self, text: str) -> Report:
        """A small-print paragraph (caveats, definitions)."""
        self._current().blocks.append(f'<p class="note">{html.escape(text)}</p>')
        return self

    def add_metrics(self, metrics: Mapping[str, Any], float_fmt: str = ".3g") -> Report:
        """Key figures as cards (name → value)."""
        cards = "".join(
            f'<div class="card"><div class="v">{_fmt(v, float_fmt)}</div>'
            f'<div class="k">{html.escape(str(k))}</div></div>'
            for k, v in metrics.items()
        )
        self._current().blocks.append(f'<div class="cards">{cards}</div>')
        return self

    def add_figure(self, image: Any, caption: str, alt: str | None = None) -> Report:
        """Embed a figure (matplotlib Figure — closed after rendering —, PNG bytes or data URI)."""
        src = _image_src(image)
        self.n_figures += 1
        alt_text = html.escape(alt or caption)
        self._current().blocks.append(
            f'<figure class="ba-figure" id="fig{self.n_figures}"><img src="{src}" '
            f'alt="{alt_text}"><figcaption>Figure {self.n_figures}. {html.escape(caption)}'
            "</figcaption></figure>"
        )
        return self

    def add_table(
        self,
        rows: Any,
        caption: str | None = None,
        float_fmt: str = ".3f",
        columns: Sequence[str] | None = None,
    ) -> Report:
        """A table from a DataFrame, a list of dicts, or a dict of name → value."""
        if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
            records = rows.to_dict(orient="records")
            cols = list(columns or rows.columns)
        elif isinstance(rows, Mapping):
            records = [{"name": k, "value": v} for k, v in rows.items()]
            cols = list(columns or ["name", "value"])
        else:
            records = [dict(r) for r in rows]
            cols = list(columns or (records[0].keys() if records else []))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{_fmt(r.get(c, ''), float_fmt)}</td>" for c in cols) + "</tr>"
            for r in records
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._current().blocks.append(
            f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
        return self

    def add_code(self, data: Any) -> Report:
        """Preformatted text, or a JSON dump of a mapping (e.g. the config)."""
        text = data if isinstance(data, str) else json.dumps(data, indent=2, default=str)
        self._current().blocks.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def to_html(self) -> str:
        """The whole page as one string."""
        nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in self.sections)
        body = "".join(
            f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.blocks)}</section>'
            for s in self.sections
        )
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1>{sub}</header><nav>{nav}</nav>"
            f'<main>{body}<p class="note">Generated by brainalign on {stamp}.</p></main>'
            "</body></html>"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page atomically; returns the path."""
        final = Path(path)
        with atomic_path(final) as tmp:
            tmp.write_text(self.to_html(), encoding="utf-8")
        return final

import re

import numpy as np
import pandas as pd
import pytest

from brainalign.report import Report
from brainalign.viz._figures import new_figure


def test_report_is_self_contained(tmp_path):
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    rep = Report("Study <1>", subtitle="a & b")
    rep.add_section("Scores", "First paragraph.\n\nSecond <b>not bold</b>.")
    rep.add_metrics({"median r": 0.2134, "n": 20484, "missing": float("nan")})
    rep.add_figure(fig, "A line")
    rep.add_table(pd.DataFrame({"band": ["llm", "rate"], "r": [0.31, np.nan]}), caption="Bands")
    rep.add_section("Provenance")
    rep.add_table({"numpy": np.__version__})
    rep.add_code({"alpha": [1, 2]})
    path = rep.save(tmp_path / "report.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "Study &lt;1&gt;" in text and "&lt;b&gt;not bold&lt;/b&gt;" in text
    assert "<td>–</td>" in text and "0.213" in text and "20484" in text
    assert text.count('<figure class="ba-figure"') == 1 and rep.n_figures == 1
    # nothing is fetched from elsewhere: every src is an embedded data URI
    srcs = re.findall(r'src="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert not list(tmp_path.glob(".*part"))


def test_report_rejects_linked_images():
    rep = Report("x")
    with pytest.raises(ValueError, match="must be data URIs"):
        rep.add_figure("https://example.org/a.png", "remote")
    with pytest.raises(ValueError, match="must be a PNG"):
        rep.add_figure(b"GIF89a...", "gif")
    with pytest.raises(TypeError, match="matplotlib Figure, PNG bytes or a data URI"):
        rep.add_figure(3, "number")

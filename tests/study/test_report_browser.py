"""Open the demo report in headless Chromium: every figure renders, nothing is logged.

The test set-up installs Debian's ``chromium`` package when it is missing (``apt-get``, as
root). Without a browser the test is skipped, unless ``BRAINALIGN_REQUIRE_BROWSER=1`` (set by
CI), where a missing browser fails the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from _fake_results import write_fake_results

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")

# Injected at the top of a copy of the page: records console errors, failed loads and
# network requests, then writes a verdict into <body data-check="..."> for --dump-dom.
_CHECK = """<script>
window.__errors = [];
const _err = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); _err(...a); };
window.addEventListener('error', e => {
  window.__errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href))));
}, true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0));
  const requests = performance.getEntriesByType('resource')
      .map(r => r.name).filter(n => !n.startsWith('data:'));
  document.body.setAttribute('data-check', JSON.stringify({
    n_images: imgs.length, n_broken: bad.length,
    widths: imgs.map(i => i.naturalWidth), errors: window.__errors, requests: requests}));
});
</script>"""


def _browser() -> str | None:
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "install", "-y", "-q", "chromium"], env=env, capture_output=True)
        return shutil.which("chromium")
    return None


@pytest.fixture(scope="module")
def chromium():
    path = _browser()
    if path is None:
        if os.environ.get("BRAINALIGN_REQUIRE_BROWSER") == "1":
            pytest.fail("headless Chromium is required (BRAINALIGN_REQUIRE_BROWSER=1) but missing")
        pytest.skip("no Chromium and no way to install it (needs apt-get as root)")
    return path


def _run(browser: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_report_renders_in_chromium(chromium, tmp_path):
    from brainalign.study import build_demo_report

    report = build_demo_report(write_fake_results(tmp_path / "results"))
    html = report.read_text()
    n_figures = html.count('<figure class="ba-figure"')
    checked = tmp_path / "checked.html"
    checked.write_text(html.replace("<head>", "<head>" + _CHECK, 1))

    dom = _run(chromium, "--virtual-time-budget=10000", "--dump-dom", checked.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'data-check="([^"]*)"', dom.stdout)
    assert m, "the check script did not run: " + dom.stdout[:500]
    verdict = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    # 9 figures of the encoding parts, 3 of the decoding part
    assert verdict["n_images"] == n_figures == 12
    assert verdict["n_broken"] == 0 and min(verdict["widths"]) > 100
    assert verdict["errors"] == []
    assert verdict["requests"] == []  # self-contained: nothing fetched

    shot = tmp_path / "report.png"
    res = _run(chromium, "--window-size=1280,4000", f"--screenshot={shot}", report.as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert img.shape[:2] == (4000, 1280)
    # the page is not blank: the header band is dark blue and the brain maps add grey shades
    assert img[:60].mean() < 120
    assert np.unique((img[::8, ::8] // 16).reshape(-1, 3), axis=0).shape[0] > 50

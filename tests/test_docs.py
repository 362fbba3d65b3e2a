"""The README quickstart is executed, so it cannot rot."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_quickstart():
    blocks = _python_blocks()
    assert blocks, "README.md must contain a ```python quickstart block"
    assert len(blocks[0].strip().splitlines()) <= 12


@pytest.mark.filterwarnings("ignore::brainalign.exceptions.AlphaGridWarning")
def test_readme_quickstart_runs(capsys):
    namespace: dict = {}
    exec(compile(_python_blocks()[0], str(README), "exec"), namespace)
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    # the printed held-out mean r is a sensible positive number on the planted data
    assert 0.2 < float(printed) < 1.0
    assert namespace["cv"].scores.shape == (4, 200)

"""Dataset cards in ``datasets/`` are one-to-one and field-equal with the registry.

Regenerate them after changing ``brainalign/datasets/_catalog.py`` with::

    python -c "from brainalign.datasets import list_datasets, write_dataset_card; \
[write_dataset_card(n, 'datasets') for n in list_datasets()]"
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brainalign.datasets import (
    dataset_card,
    get_dataset_spec,
    list_datasets,
    read_dataset_card,
    write_dataset_card,
)
from brainalign.exceptions import ConfigError

CARDS = Path(__file__).resolve().parents[2] / "datasets"
REGENERATE = (
    'regenerate the cards: python -c "from brainalign.datasets import list_datasets, '
    "write_dataset_card; [write_dataset_card(n, 'datasets') for n in list_datasets()]\""
)


def test_cards_and_registry_are_one_to_one():
    cards = sorted(p.stem for p in CARDS.glob("*.yaml"))
    assert cards == list_datasets(), REGENERATE


@pytest.mark.parametrize("name", list_datasets())
def test_committed_card_equals_generated_card(name):
    path = CARDS / f"{name}.yaml"
    assert path.read_text(encoding="utf-8") == dataset_card(name), REGENERATE
    assert read_dataset_card(path) == get_dataset_spec(name)


def test_write_and_read_card(tmp_path):
    path = write_dataset_card("nsd", tmp_path)
    assert path == tmp_path / "nsd.yaml"
    spec = read_dataset_card(path)
    assert spec == get_dataset_spec("nsd")
    assert spec.files[0].sha256 is None  # unpinned is written as null, not invented


def test_card_with_unknown_key_is_refused(tmp_path):
    path = write_dataset_card("nitime-mt-fmri", tmp_path)
    path.write_text(path.read_text() + "colour: red\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['colour'\] in a dataset entry"):
        read_dataset_card(path)
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping; got list"):
        read_dataset_card(path)

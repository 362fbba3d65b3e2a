import subprocess
import sys

import brainalign

HEAVY = (
    "torch",
    "transformers",
    "diffusers",
    "mne",
    "mne_bids",
    "nilearn",
    "matplotlib",
    "dask",
    "h5py",
    "nibabel",
    "av",
)


def _imported_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {m.split(".")[0] for m in out}


def test_import_brainalign_is_light():
    loaded = _imported_after("import brainalign")
    assert not loaded & set(HEAVY), f"heavy modules imported: {sorted(loaded & set(HEAVY))}"


def test_public_subpackages_are_light():
    code = (
        "import brainalign.data, brainalign.alignment, brainalign.encoders, "
        "brainalign.evaluation, brainalign.datasets, brainalign.io, brainalign.features, "
        "brainalign.viz, brainalign.report"
    )
    loaded = _imported_after(code)
    assert not loaded & set(HEAVY), f"heavy modules imported: {sorted(loaded & set(HEAVY))}"


def test_version_and_lazy_attributes():
    assert brainalign.__version__.startswith("0.")
    assert brainalign.data.Recording.__name__ == "Recording"
    try:
        brainalign.nonexistent  # noqa: B018
    except AttributeError as exc:
        assert "no attribute 'nonexistent'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")

import numpy as np
import pandas as pd
import pytest

from brainalign.data import make_events, validate_events


def test_make_events_roundtrip():
    ev = make_events([0.5, 1.0, 2.5], 0.2, "Word", text=["a", "b", "c"])
    assert list(ev.columns[:3]) == ["onset", "duration", "type"]
    np.testing.assert_allclose(ev["onset"], [0.5, 1.0, 2.5])
    assert ev["text"].tolist() == ["a", "b", "c"]
    assert ev["duration"].dtype == float


def test_bids_trial_type_becomes_type_and_na_duration_rejected():
    df = pd.DataFrame({"onset": [1.0, 2.0], "duration": [0.0, 1.0], "trial_type": ["x", "y"]})
    assert validate_events(df)["type"].tolist() == ["x", "y"]
    df["duration"] = df["duration"].astype(object)
    df.loc[0, "duration"] = "n/a"
    with pytest.raises(ValueError, match=r"duration'\]` must be finite.*impulse"):
        validate_events(df)


def test_missing_columns():
    with pytest.raises(ValueError, match=r"must have columns .*missing \['duration'"):
        validate_events(pd.DataFrame({"onset": [0.0], "type": ["a"]}))


def test_not_dataframe():
    with pytest.raises(TypeError, match="must be a pandas DataFrame; got dict"):
        validate_events({"onset": [0.0]})


def test_unsorted_onsets():
    with pytest.raises(ValueError, match=r"non-decreasing; got onset\[2\]=1 < onset\[1\]=3"):
        make_events([0.0, 3.0, 1.0])


def test_negative_duration():
    with pytest.raises(ValueError, match=r"duration'\]` must be >= 0; got -1"):
        make_events([0.0, 1.0], [0.0, -1.0])


def test_onsets_outside_run():
    with pytest.raises(ValueError, match=r"within the run \[0, 10\) s; got onset -0.5"):
        validate_events(make_events([-0.5, 1.0]), start=0.0, stop=10.0)
    with pytest.raises(ValueError, match=r"within the run \[0, 10\) s; got onset 12 s \(row 1\)"):
        validate_events(make_events([1.0, 12.0]), start=0.0, stop=10.0)


def test_onsets_outside_run_with_one_bound_only():
    # `start` or `stop` alone is a half-open run; the message must still be formatted.
    with pytest.raises(
        ValueError, match=r"within the run \[-inf, 10\) s; got onset 12 s \(row 1\)"
    ):
        validate_events(make_events([1.0, 12.0]), stop=10.0)
    with pytest.raises(
        ValueError, match=r"within the run \[0, inf\) s; got onset -0.5 s \(row 0\)"
    ):
        validate_events(make_events([-0.5, 1.0]), start=0.0)
    assert len(validate_events(make_events([1.0, 9.0]), stop=10.0)) == 2

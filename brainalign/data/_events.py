"""The events table: one validated DataFrame of stimulus events on the recording's clock."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["EVENT_COLUMNS", "OPTIONAL_EVENT_COLUMNS", "make_events", "validate_events"]

#: Required columns: onset and duration in seconds, and the event type (``"Word"``, ``"Image"``...).
EVENT_COLUMNS = ("onset", "duration", "type")
#: Optional columns with a fixed meaning (any other column is kept as is).
OPTIONAL_EVENT_COLUMNS = ("text", "stim_id", "stim_file", "value")


def make_events(onset: Any, duration: Any = 0.0, type: Any = "Event", **columns: Any) -> Any:
    """Build and validate an events table from columns.

    Parameters
    ----------
    onset : array-like, shape (n_events,)
        Onsets in seconds, non-decreasing.
    duration : float or array-like, shape (n_events,)
        Durations in seconds (0 for impulses).
    type : str or array-like of str
        Event type(s).
    **columns
        Extra columns (``text``, ``stim_id``, ``value``, ...).

    Returns
    -------
    events : pandas.DataFrame
    """
    import pandas as pd

    onset = np.asarray(onset, dtype=float)
    n = onset.shape[0] if onset.ndim else 1
    df = pd.DataFrame({"onset": onset})
    df["duration"] = np.broadcast_to(np.asarray(duration, dtype=float), (n,))
    df["type"] = np.broadcast_to(np.asarray(type, dtype=object), (n,))
    for key, val in columns.items():
        df[key] = val
    return validate_events(df)


def validate_events(
    events: Any,
    *,
    start: float | None = None,
    stop: float | None = None,
    name: str = "events",
) -> Any:
    """Validate an events table and return a clean copy.

    Parameters
    ----------
    events : pandas.DataFrame
        Must hold ``onset`` and ``duration`` (seconds); ``type`` is added as ``"Event"``
        when absent only if ``trial_type`` (BIDS) is present, in which case it is copied.
    start, stop : float or None
        When given, every onset must lie in ``[start, stop)`` (the span of the run).
    name : str
        Name used in error messages.

    Returns
    -------
    events : pandas.DataFrame
        A copy with float ``onset`` / ``duration`` and a string ``type`` column.

    Raises
    ------
    ValueError
        Missing columns, non-finite or negative durations, onsets that are not
        non-decreasing, or onsets outside ``[start, stop)``.
    """
    import pandas as pd

    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame; got {type(events).__name__}")
    df = events.copy()
    if "type" not in df.columns and "trial_type" in df.columns:
        df["type"] = df["trial_type"].astype(str)
    missing = [c for c in EVENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"`{name}` must have columns {list(EVENT_COLUMNS)}; missing {missing} "
            f"(got columns {list(df.columns)})"
        )
    for col in ("onset", "duration"):
        try:
            df[col] = pd.to_numeric(df[col].replace("n/a", np.nan)).astype(float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`{name}['{col}']` must be numeric (seconds): {exc}") from exc
        values = df[col].to_numpy()
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(
                f"`{name}['{col}']` must be finite seconds; got {values[bad]!r} at row {bad}"
                + (". Use 0 for impulse events." if col == "duration" else "")
            )
    dur = df["duration"].to_numpy()
    if np.any(dur < 0):
        bad = int(np.flatnonzero(dur < 0)[0])
        raise ValueError(f"`{name}['duration']` must be >= 0; got {dur[bad]:g} at row {bad}")
    onset = df["onset"].to_numpy()
    if np.any(np.diff(onset) < 0):
        i = int(np.flatnonzero(np.diff(onset) < 0)[0]) + 1
        raise ValueError(
            f"`{name}['onset']` must be non-decreasing; got onset[{i}]={onset[i]:g} < "
            f"onset[{i - 1}]={onset[i - 1]:g}. Sort the table with "
            f"events.sort_values('onset', kind='stable')."
        )
    # ``start`` or ``stop`` may be given alone: an open end reads as -inf / inf.
    span = (
        f"[{'-inf' if start is None else format(start, 'g')}, "
        f"{'inf' if stop is None else format(stop, 'g')})"
    )
    if start is not None and len(onset) and onset[0] < start:
        raise ValueError(
            f"`{name}['onset']` must lie within the run {span} s; got onset "
            f"{onset[0]:g} s (row 0). Are the onsets on the recording's clock?"
        )
    if stop is not None and len(onset) and onset[-1] >= stop:
        i = int(np.flatnonzero(onset >= stop)[0])
        raise ValueError(
            f"`{name}['onset']` must lie within the run {span} s; got onset "
            f"{onset[i]:g} s (row {i}). Are the onsets on the recording's clock, and is this "
            f"the right run?"
        )
    df["type"] = df["type"].astype(str)
    return df.reset_index(drop=True)

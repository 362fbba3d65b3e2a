"""Praat TextGrid reader: long ("ooTextFile"), short and chronological text formats."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brainalign.exceptions import DataFormatError
from brainalign.io._files import require_file

__all__ = ["read_textgrid"]

# One token of a Praat text file. Praat's own reader skips labels ("xmin =", "item [1]:")
# and reads only the values, so the long and the short format give the same value stream.
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"]|"")*")                          # "text", with "" for a literal quote
    | (?P<flag><[A-Za-z]+>)                             # <exists> / <absent>
    | (?P<comment>![^\n]*)                              # ! comment to the end of the line
    | (?P<index>\[[^\]\n]*\])                           # [1] indices of the long format
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*\??)               # labels: xmin, intervals, tiers?
    | (?P<space>\s+)
    | (?P<punct>[=:])
    """,
    re.VERBOSE,
)
_INTERVAL_TIER = "IntervalTier"
_POINT_TIER = "TextTier"
_CHRONOLOGICAL = "Praat chronological TextGrid text file"


def _decode(raw: bytes, path: Path, encoding: str | None) -> str:
    """Decode the bytes of a TextGrid: BOM-aware UTF-16 / UTF-8, else ``encoding``."""
    if encoding is not None:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as err:
            raise DataFormatError(
                f"TextGrid {str(path)!r} cannot be decoded with encoding={encoding!r}: {err}"
            ) from err
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Praat writes UTF-16 (with a byte-order mark) when the text is not ASCII.
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFormatError(
            f"TextGrid {str(path)!r} is neither UTF-16 (with a byte-order mark) nor UTF-8 "
            f"({err}). Pass the file's encoding, e.g. encoding='latin-1'."
        ) from err


def _tokenize(text: str, path: Path) -> list[tuple[str, str]]:
    """``[(kind, value), ...]`` with kind in {"string", "flag", "number"}; labels dropped."""
    tokens: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            line = text.count("\n", 0, pos) + 1
            snippet = text[pos : pos + 30].split("\n")[0]
            raise DataFormatError(
                f"TextGrid {str(path)!r} is not a Praat text file: unexpected text {snippet!r} "
                f"at line {line} (an unterminated quote?)"
            )
        kind = m.lastgroup
        value = m.group()
        if kind == "string":
            tokens.append(("string", value[1:-1].replace('""', '"')))
        elif kind in ("flag", "number"):
            tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Stream:
    """Sequential access to the values of a TextGrid, with errors naming the file."""

    def __init__(self, tokens: list[tuple[str, str]], path: Path) -> None:
        self.tokens = tokens
        self.path = path
        self.i = 0

    def _next(self, kind: str, what: str) -> str:
        if self.i >= len(self.tokens):
            raise DataFormatError(
                f"TextGrid {str(self.path)!r} ends early: expected {what} ({kind}) after "
                f"{self.i} values. Is the file truncated?"
            )
        got_kind, value = self.tokens[self.i]
        if got_kind != kind:
            raise DataFormatError(
                f"TextGrid {str(self.path)!r}: expected {what} ({kind}) as value "
                f"#{self.i + 1}; got the {got_kind} {value!r}"
            )
        self.i += 1
        return value

    def number(self, what: str) -> float:
        return float(self._next("number", what))

    def integer(self, what: str) -> int:
        value = self.number(what)
        if value != int(value) or value < 0:
            raise DataFormatError(
                f"TextGrid {str(self.path)!r}: {what} must be a non-negative integer; got {value:g}"
            )
        return int(value)

    def string(self, what: str) -> str:
        return self._next("string", what)

    def flag(self, what: str) -> str:
        return self._next("flag", what)

    @property
    def exhausted(self) -> bool:
        return self.i >= len(self.tokens)


def _check_interval(path: Path, tier: str, k: int, xmin: float, xmax: float) -> None:
    if xmax < xmin:
        raise DataFormatError(
            f"TextGrid {str(path)!r}, tier {tier!r}, interval {k + 1}: xmax must be >= xmin; "
            f"got xmin={xmin:g}, xmax={xmax:g}"
        )


def _tier_header(stream: _Stream, t: int) -> tuple[str, str]:
    """Class and name of tier ``t`` (0-based); its xmin and xmax are read and not used."""
    cls = stream.string(f"the class of tier {t + 1}")
    name = stream.string(f"the name of tier {t + 1}")
    stream.number(f"the xmin of tier {name!r}")
    stream.number(f"the xmax of tier {name!r}")
    if cls not in (_INTERVAL_TIER, _POINT_TIER):
        raise DataFormatError(
            f"TextGrid {str(stream.path)!r}: tier {t + 1} must be an 'IntervalTier' or a "
            f"'TextTier'; got class {cls!r}"
        )
    return cls, name


def _parse_ootext(stream: _Stream) -> tuple[float, float, list[dict[str, Any]]]:
    """Long and short "ooTextFile" formats (same value stream)."""
    path = stream.path
    xmin = stream.number("the TextGrid xmin")
    xmax = stream.number("the TextGrid xmax")
    exists = stream.flag("the tiers? <exists> flag")
    n_tiers = stream.integer("the number of tiers") if exists == "<exists>" else 0
    tiers = []
    for t in range(n_tiers):
        cls, name = _tier_header(stream, t)
        n_items = stream.integer(f"the number of items of tier {name!r}")
        rows = []
        if cls == _INTERVAL_TIER:
            for k in range(n_items):
                a = stream.number(f"xmin of interval {k + 1} of tier {name!r}")
                b = stream.number(f"xmax of interval {k + 1} of tier {name!r}")
                text = stream.string(f"text of interval {k + 1} of tier {name!r}")
                _check_interval(path, name, k, a, b)
                rows.append((a, b - a, text))
        else:  # _POINT_TIER
            for k in range(n_items):
                a = stream.number(f"time of point {k + 1} of tier {name!r}")
                text = stream.string(f"mark of point {k + 1} of tier {name!r}")
                rows.append((a, 0.0, text))
        tiers.append({"name": name, "class": cls, "rows": rows})
    return xmin, xmax, tiers


def _parse_chronological(stream: _Stream) -> tuple[float, float, list[dict[str, Any]]]:
    """Praat's "chronological" TextGrid text file (entries of all tiers sorted by time)."""
    path = stream.path
    xmin = stream.number("the TextGrid xmin")
    xmax = stream.number("the TextGrid xmax")
    n_tiers = stream.integer("the number of tiers")
    tiers = []
    for t in range(n_tiers):
        cls, name = _tier_header(stream, t)
        tiers.append({"name": name, "class": cls, "rows": []})
    while not stream.exhausted:
        k = stream.integer("a tier number")
        if not 1 <= k <= n_tiers:
            raise DataFormatError(
                f"TextGrid {str(path)!r}: entry refers to tier {k}; the file declares "
                f"{n_tiers} tier(s)"
            )
        tier = tiers[k - 1]
        a = stream.number(f"a time in tier {tier['name']!r}")
        if tier["class"] == _INTERVAL_TIER:
            b = stream.number(f"xmax in tier {tier['name']!r}")
            _check_interval(path, tier["name"], len(tier["rows"]), a, b)
        else:
            b = a
        text = stream.string(f"a label in tier {tier['name']!r}")
        tier["rows"].append((a, b - a, text))
    return xmin, xmax, tiers


def _select_tiers(
    tiers: list[dict[str, Any]], selection: Any, path: Path
) -> list[tuple[int, dict[str, Any]]]:
    names = [t["name"] for t in tiers]
    if selection is None:
        return list(enumerate(tiers))
    items = [selection] if isinstance(selection, (str, int)) else list(selection)
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise TypeError(
                f"`tiers` must be a tier name (str), a 0-based index (int) or a list of them; "
                f"got {item!r}"
            )
        if isinstance(item, str):
            if item not in names:
                raise ValueError(
                    f"`tiers` names a tier that TextGrid {str(path)!r} lacks: {item!r}; "
                    f"available tiers: {names}"
                )
            idx = names.index(item)
        else:
            if not -len(tiers) <= item < len(tiers):
                raise ValueError(
                    f"`tiers` index {item} is out of range: TextGrid {str(path)!r} has "
                    f"{len(tiers)} tier(s) {names} (0-based indices)"
                )
            idx = item % len(tiers)
        out.append((idx, tiers[idx]))
    return out


def read_textgrid(
    path: str | os.PathLike[str],
    tiers: str | int | Sequence[str | int] | None = None,
    *,
    encoding: str | None = None,
) -> Any:
    """Read a Praat TextGrid into one table of intervals (and points).

    The three text formats that Praat writes are understood: the long format
    (``File type = "ooTextFile"`` with ``xmin = ...`` labels), the short format (values only)
    and the chronological format (``"Praat chronological TextGrid text file"``). Strings
    follow Praat's rules: a literal double quote is written ``""``. UTF-16 files (with a
    byte-order mark, Praat's choice for non-ASCII text) and UTF-8 files are decoded
    automatically. Binary TextGrids are not supported.

    Parameters
    ----------
    path : str or path-like
        The ``.TextGrid`` file.
    tiers : str, int, list of str / int, or None
        Tiers to return, by name or by 0-based index (in file order). ``None`` returns all.
        The rows follow the order of ``tiers``.
    encoding : str or None
        Force a text encoding (e.g. ``"latin-1"``). Default: detect UTF-16 / UTF-8.

    Returns
    -------
    intervals : pandas.DataFrame, shape (n_intervals, 5)
        One row per interval (or point) with columns ``onset`` (s, the interval's xmin),
        ``duration`` (s, xmax - xmin; 0 for points of a ``TextTier``), ``text`` (the label,
        possibly empty: empty intervals are kept), ``tier`` (name) and ``tier_index``
        (0-based). Within a tier, rows keep the file order. ``intervals.attrs`` holds
        ``xmin``, ``xmax`` (the time domain of the grid), ``tier_names`` (all tiers, in file
        order), ``tier_classes`` and ``format`` (``"long"``, ``"short"`` or
        ``"chronological"``).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        The file is not a Praat text TextGrid, is truncated, or has an interval whose xmax
        is before its xmin.
    ValueError
        ``tiers`` names a tier that is not in the file.
    """
    import pandas as pd

    p = require_file(path, "TextGrid")
    text = _decode(p.read_bytes(), p, encoding)
    if text.lstrip().startswith('File type = "ooBinaryFile"'):
        raise DataFormatError(
            f"TextGrid {str(p)!r} is a binary Praat file; save it as a text file from Praat "
            f"(Save as text file...) and read that"
        )
    tokens = _tokenize(text, p)
    stream = _Stream(tokens, p)
    if tokens and tokens[0] == ("string", _CHRONOLOGICAL):
        stream.i = 1
        fmt = "chronological"
        xmin, xmax, all_tiers = _parse_chronological(stream)
    else:
        file_type = tokens[0][1] if tokens else None
        object_class = tokens[1][1] if len(tokens) > 1 else None
        if file_type not in ("ooTextFile", "ooTextFile short") or object_class != "TextGrid":
            first = text.lstrip().split("\n", 1)[0][:60]
            raise DataFormatError(
                f"TextGrid {str(p)!r} must start with 'File type = \"ooTextFile\"' and "
                f"'Object class = \"TextGrid\"' (or be a chronological TextGrid); got the "
                f"first line {first!r}"
            )
        stream.i = 2
        fmt = "long" if re.search(r"^\s*xmin\s*=", text, re.MULTILINE) else "short"
        xmin, xmax, all_tiers = _parse_ootext(stream)
        if not stream.exhausted:
            raise DataFormatError(
                f"TextGrid {str(p)!r} has {len(tokens) - stream.i} unexpected value(s) after "
                f"its {len(all_tiers)} declared tier(s), starting with {tokens[stream.i][1]!r}. "
                f"Is the tier count (size) right?"
            )
    selected = _select_tiers(all_tiers, tiers, p)
    frames = []
    for idx, tier in selected:
        rows = tier["rows"]
        frames.append(
            pd.DataFrame(
                {
                    "onset": pd.Series([r[0] for r in rows], dtype=float),
                    "duration": pd.Series([r[1] for r in rows], dtype=float),
                    "text": pd.Series([r[2] for r in rows], dtype=object),
                    "tier": pd.Series([tier["name"]] * len(rows), dtype=object),
                    "tier_index": pd.Series([idx] * len(rows), dtype=int),
                }
            )
        )
    columns = ["onset", "duration", "text", "tier", "tier_index"]
    out = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    )
    out.attrs.update(
        xmin=xmin,
        xmax=xmax,
        tier_names=[t["name"] for t in all_tiers],
        tier_classes=[t["class"] for t in all_tiers],
        format=fmt,
    )
    return out

"""read_textgrid: long, short and chronological Praat text formats."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _fixtures_textgrid import write_textgrid

from brainalign.exceptions import DataFormatError
from brainalign.io import read_textgrid

# Written by hand as Praat writes it (long format, "" for a quote); Praat also ends every
# "name = value" line with a space, added below so that the source has no trailing spaces.
LONG = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phone"
        xmin = 0
        xmax = 2.5
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.75
            text = ""
        intervals [2]:
            xmin = 0.75
            xmax = 1.2
            text = "K"
        intervals [3]:
            xmin = 1.2
            xmax = 2.5
            text = "AE1"
    item [2]:
        class = "IntervalTier"
        name = "word"
        xmin = 0
        xmax = 2.5
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.75
            text = "sp"
        intervals [2]:
            xmin = 0.75
            xmax = 1.2
            text = "café"
        intervals [3]:
            xmin = 1.2
            xmax = 2.5
            text = "she said ""hi"" ! 名字"
"""

LONG = re.sub(r"(?m)^(?!File type|Object class)(.*(?: = |<exists>).*)$", r"\1 ", LONG)

SHORT = """File type = "ooTextFile"
Object class = "TextGrid"

0
2.5
<exists>
2
"IntervalTier"
"phone"
0
2.5
3
0
0.75
""
0.75
1.2
"K"
1.2
2.5
"AE1"
"IntervalTier"
"word"
0
2.5
3
0
0.75
"sp"
0.75
1.2
"café"
1.2
2.5
"she said ""hi"" ! 名字"
"""

CHRONOLOGICAL = """"Praat chronological TextGrid text file"
0 2.5   ! Time domain.
2   ! Number of tiers.
"IntervalTier" "phone" 0 2.5
"IntervalTier" "word" 0 2.5
1 0 0.75
""
2 0 0.75
"sp"

1 0.75 1.2
"K"
2 0.75 1.2
"café"

1 1.2 2.5
"AE1"
2 1.2 2.5
"she said ""hi"" ! 名字"
"""

EXPECTED_WORDS = ["sp", "café", 'she said "hi" ! 名字']


@pytest.mark.parametrize(
    ("text", "fmt"), [(LONG, "long"), (SHORT, "short"), (CHRONOLOGICAL, "chronological")]
)
def test_hand_written_formats(tmp_path, text, fmt):
    path = tmp_path / "story.TextGrid"
    path.write_text(text, encoding="utf-8")
    df = read_textgrid(path)
    assert list(df.columns) == ["onset", "duration", "text", "tier", "tier_index"]
    assert df.attrs["format"] == fmt
    assert df.attrs["tier_names"] == ["phone", "word"]
    assert (df.attrs["xmin"], df.attrs["xmax"]) == (0.0, 2.5)
    assert df["tier"].tolist() == ["phone"] * 3 + ["word"] * 3
    words = df[df["tier"] == "word"]
    assert words["text"].tolist() == EXPECTED_WORDS
    np.testing.assert_allclose(words["onset"], [0.0, 0.75, 1.2])
    np.testing.assert_allclose(words["duration"], [0.75, 0.45, 1.3])
    assert df["text"].iloc[0] == ""  # empty intervals are kept


def test_tiers_by_name_and_index(tmp_path):
    path = tmp_path / "a.TextGrid"
    path.write_text(LONG, encoding="utf-8")
    by_name = read_textgrid(path, tiers="word")
    by_index = read_textgrid(path, tiers=1)
    by_negative = read_textgrid(path, tiers=-1)
    for df in (by_name, by_index, by_negative):
        assert df["text"].tolist() == EXPECTED_WORDS
        assert set(df["tier_index"]) == {1}
    both = read_textgrid(path, tiers=["word", 0])
    assert both["tier"].tolist() == ["word"] * 3 + ["phone"] * 3


def test_utf16_with_bom_and_point_tier_round_trip(tmp_path):
    tiers = [
        ("words", [(0.0, 0.3, "naïve"), (0.3, 1.0 / 3.0, '"quoted"'), (1.0 / 3.0, 2.0, "")]),
        ("bells", [(0.125, "ding"), (1.5, "dông")], "TextTier"),
    ]
    for fmt in ("long", "short", "chronological"):
        path = write_textgrid(tmp_path / f"{fmt}.TextGrid", tiers, fmt=fmt, encoding="utf-16")
        assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
        df = read_textgrid(path)
        words = df[df["tier"] == "words"]
        assert words["text"].tolist() == ["naïve", '"quoted"', ""]
        # exact round trip of the numbers (repr on write)
        assert words["onset"].tolist() == [0.0, 0.3, 1.0 / 3.0]
        assert (words["onset"] + words["duration"]).tolist() == [0.3, 1.0 / 3.0, 2.0]
        bells = df[df["tier"] == "bells"]
        assert bells["onset"].tolist() == [0.125, 1.5]
        assert bells["duration"].tolist() == [0.0, 0.0]
        assert bells["text"].tolist() == ["ding", "dông"]
        assert df.attrs["tier_classes"] == ["IntervalTier", "TextTier"]


def test_empty_grid(tmp_path):
    path = tmp_path / "empty.TextGrid"
    path.write_text(
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n1\n<absent>\n', "utf-8"
    )
    df = read_textgrid(path)
    assert len(df) == 0 and df.attrs["tier_names"] == []


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="TextGrid not found: expected a file at"):
        read_textgrid(tmp_path / "missing.TextGrid")

    not_grid = tmp_path / "notes.TextGrid"
    not_grid.write_text('File type = "ooTextFile"\nObject class = "Sound"\n\n0\n1\n')
    with pytest.raises(DataFormatError, match=r"must start with 'File type.*got the first line"):
        read_textgrid(not_grid)

    binary = tmp_path / "bin.TextGrid"
    binary.write_bytes(b'File type = "ooBinaryFile"\nObject class = "TextGrid"\n\x00\x01')
    with pytest.raises(DataFormatError, match="is a binary Praat file"):
        read_textgrid(binary)

    truncated = tmp_path / "trunc.TextGrid"
    truncated.write_text(LONG[: LONG.index("intervals [3]") + 40], encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"ends early: expected .*tier 'phone'.*truncated"):
        read_textgrid(truncated)

    number = tmp_path / "number.TextGrid"
    number.write_text(LONG.replace('"K"', "3.5"), encoding="utf-8")
    with pytest.raises(
        DataFormatError,
        match=r"expected text of interval 2 of tier 'phone' \(string\).*number '3.5'",
    ):
        read_textgrid(number)

    unterminated = tmp_path / "unterminated.TextGrid"
    unterminated.write_text(SHORT.rstrip('"\n'), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"unexpected text .* at line \d+"):
        read_textgrid(unterminated)

    backwards = tmp_path / "backwards.TextGrid"
    backwards.write_text(SHORT.replace('0.75\n1.2\n"K"', '0.75\n0.5\n"K"'), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"interval 2: xmax must be >= xmin; got xmin=0.75"):
        read_textgrid(backwards)

    extra = tmp_path / "extra.TextGrid"
    extra.write_text(SHORT.replace("<exists>\n2\n", "<exists>\n1\n"), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"unexpected value\(s\) after its 1 declared"):
        read_textgrid(extra)

    latin = tmp_path / "latin.TextGrid"
    latin.write_bytes(SHORT.encode("latin-1", errors="replace"))
    with pytest.raises(DataFormatError, match=r"neither UTF-16.*encoding='latin-1'"):
        read_textgrid(latin)
    assert "café" in read_textgrid(latin, encoding="latin-1")["text"].tolist()

    good = tmp_path / "good.TextGrid"
    good.write_text(LONG, encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks: 'words'; available tiers: \['phone', 'word'\]"):
        read_textgrid(good, tiers="words")
    with pytest.raises(ValueError, match=r"index 2 is out of range.*has 2 tier"):
        read_textgrid(good, tiers=2)
    with pytest.raises(TypeError, match="must be a tier name"):
        read_textgrid(good, tiers=[1.5])

    bad_class = tmp_path / "class.TextGrid"
    bad_class.write_text(SHORT.replace('"IntervalTier"\n"word"', '"Tier"\n"word"'), "utf-8")
    with pytest.raises(DataFormatError, match="tier 2 must be an 'IntervalTier' or a 'TextTier'"):
        read_textgrid(bad_class)

    chron = tmp_path / "chron.TextGrid"
    chron.write_text(CHRONOLOGICAL.replace("2 1.2 2.5", "3 1.2 2.5"), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"refers to tier 3; the file declares 2"):
        read_textgrid(chron)

"""Write Praat TextGrids the way Praat does (long, short and chronological text formats).

A tier is ``(name, rows)`` for an IntervalTier with rows ``(xmin, xmax, text)``, or
``(name, rows, "TextTier")`` for a point tier with rows ``(time, mark)``. Numbers are written
with ``repr`` (shortest round-trip form), so what is written is exactly what is read back.
"""

from __future__ import annotations

from pathlib import Path


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _num(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _split(tier: tuple) -> tuple[str, list, str]:
    name, rows = tier[0], tier[1]
    cls = tier[2] if len(tier) > 2 else "IntervalTier"
    return name, rows, cls


def textgrid_text(tiers: list[tuple], xmin: float, xmax: float, fmt: str = "long") -> str:
    if fmt == "long":
        out = [
            'File type = "ooTextFile"',
            'Object class = "TextGrid"',
            "",
            f"xmin = {_num(xmin)} ",
            f"xmax = {_num(xmax)} ",
            "tiers? <exists> ",
            f"size = {len(tiers)} ",
            "item []: ",
        ]
        for i, tier in enumerate(tiers, start=1):
            name, rows, cls = _split(tier)
            out += [
                f"    item [{i}]:",
                f"        class = {_q(cls)} ",
                f"        name = {_q(name)} ",
                f"        xmin = {_num(xmin)} ",
                f"        xmax = {_num(xmax)} ",
            ]
            if cls == "IntervalTier":
                out.append(f"        intervals: size = {len(rows)} ")
                for k, (a, b, text) in enumerate(rows, start=1):
                    out += [
                        f"        intervals [{k}]:",
                        f"            xmin = {_num(a)} ",
                        f"            xmax = {_num(b)} ",
                        f"            text = {_q(text)} ",
                    ]
            else:
                out.append(f"        points: size = {len(rows)} ")
                for k, (t, mark) in enumerate(rows, start=1):
                    out += [
                        f"        points [{k}]:",
                        f"            number = {_num(t)} ",
                        f"            mark = {_q(mark)} ",
                    ]
        return "\n".join(out) + "\n"
    if fmt == "short":
        out = [
            'File type = "ooTextFile"',
            'Object class = "TextGrid"',
            "",
            _num(xmin),
            _num(xmax),
            "<exists>",
            str(len(tiers)),
        ]
        for tier in tiers:
            name, rows, cls = _split(tier)
            out += [_q(cls), _q(name), _num(xmin), _num(xmax), str(len(rows))]
            for row in rows:
                out += [_num(v) for v in row[:-1]] + [_q(row[-1])]
        return "\n".join(out) + "\n"
    if fmt == "chronological":
        out = [
            '"Praat chronological TextGrid text file"',
            f"{_num(xmin)} {_num(xmax)}   ! Time domain.",
            f"{len(tiers)}   ! Number of tiers.",
        ]
        entries = []
        for i, tier in enumerate(tiers, start=1):
            name, rows, cls = _split(tier)
            out.append(f"{_q(cls)} {_q(name)} {_num(xmin)} {_num(xmax)}")
            for row in rows:
                entries.append((float(row[0]), i, row))
        for _, i, row in sorted(entries, key=lambda e: (e[0], e[1])):
            out += [f"{i} " + " ".join(_num(v) for v in row[:-1]), _q(row[-1])]
            out.append("")
        return "\n".join(out) + "\n"
    raise ValueError(fmt)


def write_textgrid(
    path: Path,
    tiers: list[tuple],
    xmin: float = 0.0,
    xmax: float | None = None,
    fmt: str = "long",
    encoding: str = "utf-8",
) -> Path:
    """Write a TextGrid file and return its path."""
    if xmax is None:
        ends = [row[1] if len(row) == 3 else row[0] for _, rows, *_ in tiers for row in rows]
        xmax = max(ends, default=1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = textgrid_text(tiers, xmin, xmax, fmt)
    path.write_bytes(text.encode(encoding))
    return path

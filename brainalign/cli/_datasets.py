"""``brainalign datasets {list,info,fetch}``: a thin layer over :mod:`brainalign.datasets`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = [
    "add_datasets_parser",
    "cmd_datasets_fetch",
    "cmd_datasets_info",
    "cmd_datasets_list",
]

_MAX_CELL = 32
# Licences and citations are shown in full: they are what `list` is for.
_MAX_LICENCE = 48


def _cell(value: object, width: int = _MAX_CELL) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def cmd_datasets_list(args: argparse.Namespace) -> int:
    """Print one row per registered dataset."""
    from brainalign.datasets import get_dataset_spec, list_datasets

    rows = []
    for name in list_datasets(modality=args.modality):
        s = get_dataset_spec(name)
        rows.append(
            [
                s.name,
                s.modality,
                _cell(s.source),
                _cell(s.licence, _MAX_LICENCE),
                _cell(s.size),
                _cell(s.citation_short, _MAX_LICENCE),
            ]
        )
    header = ["name", "modality", "source", "licence", "size", "citation"]
    print(_table(header, rows) if rows else "no dataset matches")
    return 0


def _format_info(info: dict[str, Any]) -> str:
    keys = [
        "name",
        "modality",
        "source",
        "reader",
        "licence",
        "citation",
        "description",
        "size",
        "homepage",
        "version",
        "access",
    ]
    lines = [f"{k}: {'-' if info.get(k) is None else info[k]}" for k in keys]
    package = info.get("package")
    if package is not None:
        lines.append(f"package: {package['requirement']}")
        for w in package["wheels"]:
            lines.append(f"  wheel {w['path']} sha256 {w['sha256']}")
    lines.append("layout:")
    lines += [f"  {p}" for p in info["layout"]] or ["  -"]
    lines.append(f"local_dir: {info['local_dir']}")
    n = len(info["files"])
    lines.append(f"files ({n}; pinned: {info['pinned']}):")
    for f in info["files"]:
        if f["pinned"]:
            pin = f"pinned sha256 {f['sha256']}"
        elif f["locked_sha256"]:
            pin = f"unpinned, sha256 {f['locked_sha256']} recorded on first use"
        else:
            pin = "unpinned (sha256 recorded on first download)"
        where = "present" if f["present"] else "absent"
        size = "size unknown" if f["size"] is None else f"{f['size']} bytes"
        lines.append(f"  {f['path']}  [{where}; {pin}; {size}]")
        origin = f["url"] or (f"package member {f['member']}" if f["member"] else None)
        if origin:
            lines.append(f"    from {origin}")
    if not n:
        lines.append("  (none: brainalign cannot download this dataset; see `access`)")
    return "\n".join(lines)


def cmd_datasets_info(args: argparse.Namespace) -> int:
    """Print every field of a dataset, its files, and what is present locally."""
    from brainalign.datasets import dataset_info

    print(_format_info(dataset_info(args.name, data_dir=args.data_dir)))
    return 0


def cmd_datasets_fetch(args: argparse.Namespace) -> int:
    """Fetch and verify the registered files of a dataset; print where they are."""
    from brainalign.datasets import DownloadError, fetch_dataset, get_dataset_spec

    spec = get_dataset_spec(args.name)
    try:
        local = fetch_dataset(
            spec.name,
            data_dir=args.data_dir,
            verify=not args.no_verify,
            verbose=False if args.quiet else None,
        )
    except DownloadError as exc:
        print(f"brainalign: error: {exc}", file=sys.stderr)
        return 2
    print(f"{spec.name}: {local.path}")
    for rel, path in local.files.items():
        print(f"  {rel} -> {path}")
    if not local.files:
        print("  (no registered files; using the data already in this folder)")
    return 0


def _datasets_help(parser: argparse.ArgumentParser) -> Any:
    def _cmd(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return _cmd


def add_datasets_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``datasets`` and its actions to the ``brainalign`` subparsers; return its parser."""
    parser = subparsers.add_parser(
        "datasets", help="list, describe and fetch the registered datasets"
    )
    actions = parser.add_subparsers(dest="datasets_action", metavar="ACTION")
    parser.set_defaults(func=_datasets_help(parser))

    p_list = actions.add_parser("list", help="table of the registered datasets")
    p_list.add_argument("--modality", help="only datasets with this modality (fmri, meg, ...)")
    p_list.set_defaults(func=cmd_datasets_list)

    p_info = actions.add_parser("info", help="all fields, files, pinned status, local presence")
    p_info.add_argument("name", help="dataset name (see `brainalign datasets list`)")
    p_info.add_argument("--data-dir", help="root data folder (default: $BRAINALIGN_DATA or cache)")
    p_info.set_defaults(func=cmd_datasets_info)

    p_fetch = actions.add_parser("fetch", help="download and verify a dataset's files")
    p_fetch.add_argument("name", help="dataset name (see `brainalign datasets list`)")
    p_fetch.add_argument("--data-dir", help="root data folder (default: $BRAINALIGN_DATA or cache)")
    p_fetch.add_argument(
        "--no-verify", action="store_true", help="do not re-hash files already present"
    )
    p_fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    p_fetch.set_defaults(func=cmd_datasets_fetch)
    return parser

"""Command-line interface (``brainalign``)."""

from brainalign.cli._main import build_parser, main

__all__ = ["build_parser", "main"]

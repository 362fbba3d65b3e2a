"""Self-contained HTML reports (figures embedded, no external requests)."""

from brainalign.report._html import Report

__all__ = ["Report"]

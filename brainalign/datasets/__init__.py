"""Datasets: synthetic generators (and, later, the registry of real datasets)."""

from brainalign.datasets._synthetic import (
    SyntheticEncodingData,
    SyntheticTruth,
    make_encoding_data,
)

__all__ = ["SyntheticEncodingData", "SyntheticTruth", "make_encoding_data"]

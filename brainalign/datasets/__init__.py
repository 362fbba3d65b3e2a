"""Datasets: the registry of real datasets (specs, verified fetching, cards) and synthetic
generators.

``import brainalign.datasets`` stays light: registering the catalogue imports no reader and no
heavy library.
"""

from brainalign.datasets import _catalog  # noqa: F401  (registers the datasets)
from brainalign.datasets._download import (
    ChecksumError,
    DownloadError,
    LocalDataset,
    download_file,
    fetch_dataset,
    file_sha256,
)
from brainalign.datasets._package import locate_package_file
from brainalign.datasets._registry import (
    LOCK_FILENAME,
    DatasetSpec,
    FileSpec,
    PackageSpec,
    dataset_card,
    dataset_info,
    get_data_dir,
    get_dataset_dir,
    get_dataset_spec,
    list_datasets,
    read_dataset_card,
    read_lock,
    register_dataset,
    write_dataset_card,
)
from brainalign.datasets._synthetic import (
    SyntheticEncodingData,
    SyntheticTruth,
    make_encoding_data,
)

__all__ = [
    "LOCK_FILENAME",
    "ChecksumError",
    "DatasetSpec",
    "DownloadError",
    "FileSpec",
    "LocalDataset",
    "PackageSpec",
    "SyntheticEncodingData",
    "SyntheticTruth",
    "dataset_card",
    "dataset_info",
    "download_file",
    "fetch_dataset",
    "file_sha256",
    "get_data_dir",
    "get_dataset_dir",
    "get_dataset_spec",
    "list_datasets",
    "locate_package_file",
    "make_encoding_data",
    "read_dataset_card",
    "read_lock",
    "register_dataset",
    "write_dataset_card",
]

"""Encoding studies: a strict config, an end-to-end runner and saved results."""

from brainalign.study._config import (
    AlignmentConfig,
    ArrayDataConfig,
    EvaluationConfig,
    ModelConfig,
    StudyConfig,
    SyntheticDataConfig,
    load_config,
)
from brainalign.study._results import StudyResult, load_results, save_results
from brainalign.study._run import load_study_design, run_study

__all__ = [
    "AlignmentConfig",
    "ArrayDataConfig",
    "EvaluationConfig",
    "ModelConfig",
    "StudyConfig",
    "StudyResult",
    "SyntheticDataConfig",
    "load_config",
    "load_results",
    "load_study_design",
    "run_study",
    "save_results",
]

"""Encoding studies: a strict config, an end-to-end runner, saved results, and the embedded
default study (``run_demo``) with its HTML report."""

from brainalign.study._config import (
    AlignmentConfig,
    ArrayDataConfig,
    EvaluationConfig,
    ModelConfig,
    StudyConfig,
    SyntheticDataConfig,
    load_config,
)
from brainalign.study._demo import (
    check_demo_inputs,
    load_demo_results,
    run_demo,
    save_demo_results,
)
from brainalign.study._demo_language import LanguageDemoConfig, run_language_demo
from brainalign.study._demo_mt import run_mt_demo
from brainalign.study._demo_report import build_demo_report
from brainalign.study._results import StudyResult, load_results, save_results
from brainalign.study._run import load_study_design, run_study

__all__ = [
    "AlignmentConfig",
    "ArrayDataConfig",
    "EvaluationConfig",
    "LanguageDemoConfig",
    "ModelConfig",
    "StudyConfig",
    "StudyResult",
    "SyntheticDataConfig",
    "build_demo_report",
    "check_demo_inputs",
    "load_config",
    "load_demo_results",
    "load_results",
    "load_study_design",
    "run_demo",
    "run_language_demo",
    "run_mt_demo",
    "run_study",
    "save_demo_results",
    "save_results",
]

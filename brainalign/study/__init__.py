"""Encoding and decoding studies: strict configs, end-to-end runners, saved results, and the
embedded default study (``run_demo``) with its HTML report."""

from brainalign.study._config import (
    AlignmentConfig,
    ArrayDataConfig,
    EvaluationConfig,
    ModelConfig,
    StudyConfig,
    SyntheticDataConfig,
    load_config,
)
from brainalign.study._decode import (
    DecodingResults,
    check_decode_inputs,
    format_decode_summary,
    run_decoding,
)
from brainalign.study._decode_config import (
    DecodeConfig,
    DigitsTaskConfig,
    FacesTaskConfig,
    RetrievalConfig,
    SentencesTaskConfig,
    StoryTaskConfig,
    load_decode_config,
)
from brainalign.study._decode_report import build_decode_report
from brainalign.study._demo import (
    check_demo_inputs,
    demo_decode_config,
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
    "DecodeConfig",
    "DecodingResults",
    "DigitsTaskConfig",
    "EvaluationConfig",
    "FacesTaskConfig",
    "LanguageDemoConfig",
    "ModelConfig",
    "RetrievalConfig",
    "SentencesTaskConfig",
    "StoryTaskConfig",
    "StudyConfig",
    "StudyResult",
    "SyntheticDataConfig",
    "build_decode_report",
    "build_demo_report",
    "check_decode_inputs",
    "check_demo_inputs",
    "demo_decode_config",
    "format_decode_summary",
    "load_config",
    "load_decode_config",
    "load_demo_results",
    "load_results",
    "load_study_design",
    "run_decoding",
    "run_demo",
    "run_language_demo",
    "run_mt_demo",
    "run_study",
    "save_demo_results",
    "save_results",
]

"""Evaluation: per-target scores, CV splitters, noise ceilings, variance partitioning, nulls."""

from brainalign.evaluation._crossval import CVResult, cross_validate_encoder
from brainalign.evaluation._image_metrics import (
    network_features,
    pixcorr,
    ssim,
    two_way_identification,
)
from brainalign.evaluation._metrics import correlation_score, r2_score, score_targets
from brainalign.evaluation._noise_ceiling import (
    compute_ncsnr,
    explainable_variance,
    noise_ceiling,
)
from brainalign.evaluation._partition import r2_score_split
from brainalign.evaluation._permutation import (
    PermutationResult,
    block_permutation_test,
    fdr_correction,
    make_block_permutation,
)
from brainalign.evaluation._splitters import BlockedKFold, LeaveOneRunOut
from brainalign.evaluation._text_metrics import bleu1, embedding_similarity, meteor, wer

__all__ = [
    "BlockedKFold",
    "CVResult",
    "LeaveOneRunOut",
    "PermutationResult",
    "bleu1",
    "block_permutation_test",
    "compute_ncsnr",
    "correlation_score",
    "cross_validate_encoder",
    "embedding_similarity",
    "explainable_variance",
    "fdr_correction",
    "make_block_permutation",
    "meteor",
    "network_features",
    "noise_ceiling",
    "pixcorr",
    "r2_score",
    "r2_score_split",
    "score_targets",
    "ssim",
    "two_way_identification",
    "wer",
]

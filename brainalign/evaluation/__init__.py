"""Evaluation: per-target scores, CV splitters, noise ceilings, variance partitioning, nulls."""

from brainalign.evaluation._metrics import correlation_score, r2_score, score_targets

__all__ = ["correlation_score", "r2_score", "score_targets"]

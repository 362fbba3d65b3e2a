"""The data model: recordings, trial sets, spaces, events, feature sets and designs."""

from brainalign.data._design import Design
from brainalign.data._events import EVENT_COLUMNS, make_events, validate_events
from brainalign.data._featureset import FeatureSet, config_hash
from brainalign.data._recording import MODALITIES, Recording
from brainalign.data._space import FSAVERAGE_N_VERTICES, Space
from brainalign.data._trialset import TrialSet

__all__ = [
    "EVENT_COLUMNS",
    "FSAVERAGE_N_VERTICES",
    "MODALITIES",
    "Design",
    "FeatureSet",
    "Recording",
    "Space",
    "TrialSet",
    "config_hash",
    "make_events",
    "validate_events",
]

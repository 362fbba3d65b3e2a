"""Strict configuration of a decoding study (``brainalign decode CONFIG.yaml``).

Unknown keys are refused (the valid ones are listed); every task has its own section, run
only when the task is named in ``tasks``. Model paths in a YAML file are relative to the
file; ``output`` is relative to the working directory (as for ``brainalign fit``).

Example::

    name: decoding-demo
    tasks: [faces, sentences]
    n_permutations: 20          # null runs per null kind
    nulls: [permuted-brain, noise]
    faces: {n_train: 3000, n_test: 100, r_range: [0.1, 0.3], n_test_repeats: 3}
    sentences: {snr: 0.1}
    output: decode_results
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brainalign.exceptions import ConfigError
from brainalign.study._config import read_config_mapping

__all__ = [
    "TASKS",
    "DecodeConfig",
    "DigitsTaskConfig",
    "FacesTaskConfig",
    "RetrievalConfig",
    "SentencesTaskConfig",
    "StoryTaskConfig",
    "load_decode_config",
]

#: Decoding tasks, in the order they run.
TASKS = ("faces", "digits", "sentences", "story")
_NULLS = ("permuted-brain", "noise")
_IDENTIFICATION = ("pixels", "efficientnet-lite0")
#: Config keys that hold paths (relative to the YAML file).
_PATH_KEYS = {"faces": "generator", "digits": "model_dir", "sentences": "embedder"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_r_range(v: tuple[float, float]) -> tuple[float, float]:
    low, high = v
    if not 0 < low <= high < 1:
        raise ValueError(
            "must satisfy 0 < low <= high < 1 (single-trial signal-response correlations; "
            "0.1-0.3 is realistic for fMRI)"
        )
    return v


class _ImageTask(_Strict):
    n_voxels: int = Field(1500, ge=1)
    #: Each voxel's single-trial signal-response correlation is drawn from this range.
    r_range: tuple[float, float] = (0.1, 0.3)
    shared_noise: float = Field(0.3, ge=0, le=1)
    #: Test responses average this many noise draws (NSD / MindEye: 3 repeats).
    n_test_repeats: int = Field(3, ge=1)
    #: Also score single-trial test responses (same training set, fresh noise).
    single_trial: bool = True
    #: Identification features: raw pixels and / or EfficientNet-Lite0 (bundled weights).
    identification: list[Literal["pixels", "efficientnet-lite0"]] = Field(
        default_factory=lambda: list(_IDENTIFICATION)
    )
    network_layer: str = "layer_8"
    #: Side to which PixCorr / SSIM resize the images (the NSD protocol: 425); None: native.
    metric_size: int | None = Field(None, ge=11)
    #: Test images shown in the report.
    n_show: int = Field(8, ge=1, le=32)
    #: Null runs of this task (None: the study's ``n_permutations``).
    n_permutations: int | None = Field(None, ge=1)

    @field_validator("r_range")
    @classmethod
    def _r(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_r_range(v)


class FacesTaskConfig(_ImageTask):
    """Faces of the packaged DCGAN, brain → GAN latent (ridge) → face (:class:`GANHead`)."""

    #: Training images (NSD: about 9,000 per subject; 3,000 stays well below that).
    n_train: int = Field(3000, ge=10)
    n_test: int = Field(100, ge=5)
    #: Generator weights; None: the packaged ``gan-face-generate`` weights.
    generator: Path | None = None


class DigitsTaskConfig(_ImageTask):
    """scikit-learn digits, brain → PCA embedding → the digits diffusion model."""

    n_test: int = Field(300, ge=5)
    single_trial: bool = False
    #: PixCorr / SSIM on 64 x 64 upsampled digits (SSIM's window needs at least 11 pixels).
    metric_size: int = Field(64, ge=11)
    identification: list[Literal["pixels", "efficientnet-lite0"]] = Field(
        default_factory=lambda: ["pixels"]
    )
    #: A trained model folder; None: the cached model of ``train_digit_diffusion``.
    model_dir: Path | None = None
    #: Train the default model (about 16 min on 2 cores) when it is not cached.
    train: bool = False
    num_inference_steps: int = Field(20, ge=1)


class SentencesTaskConfig(_Strict):
    """Single-trial responses to sentences, brain → MiniLM embedding → best test sentence."""

    n_voxels: int = Field(500, ge=1)
    #: Mean single-trial signal-to-noise variance ratio of the signal voxels.
    snr: float = Field(0.1, gt=0)
    signal_fraction: float = Field(0.7, gt=0, le=1)
    shared_noise: float = Field(0.3, ge=0, le=1)
    test_size: float = Field(0.2, gt=0, lt=1)
    #: Sentence encoder folder; None: all-MiniLM-L6-v2 (packaged).
    embedder: Path | None = None
    n_show: int = Field(12, ge=1)
    n_permutations: int | None = Field(None, ge=1)


class StoryTaskConfig(_Strict):
    """BOLD runs of a story, beam search with an LM scored by an encoding model (slow)."""

    #: Causal LM folder; None: SmolLM2-135M (packaged).
    lm: Path | None = None
    #: Sentence encoder for the similarity metric; None: MiniLM; false: no similarity.
    embedder: Path | Literal[False] | None = None
    n_runs: int = Field(4, ge=2)
    words_per_run: int = Field(150, ge=10)
    test_words: int = Field(50, ge=5)
    word_rate: float = Field(1.0, gt=0)
    tr: float = Field(2.0, gt=0)
    n_voxels: int = Field(1000, ge=1)
    snr: float = Field(1.0, gt=0)
    beam_width: int = Field(3, ge=1)
    n_candidates: int = Field(3, ge=1)
    #: Words are scored in windows of this length (Tang et al.: 20 s).
    window_s: float = Field(10.0, gt=0)
    prompt: str = "It was an ordinary day."
    #: Null runs (each a full beam search; None: the study's ``n_permutations``).
    n_permutations: int | None = Field(2, ge=1)


class RetrievalConfig(_Strict):
    """Top-k retrieval of decoded embeddings among the test set (MindEye protocol)."""

    k: list[int] = Field(default_factory=lambda: [1, 5])
    n_draws: int = Field(30, ge=1)
    #: Candidates per draw (MindEye: 300); larger than the test set: all test items.
    draw_size: int = Field(300, ge=2)

    @field_validator("k")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 for k in v) or len(set(v)) != len(v):
            raise ValueError("must be a non-empty list of distinct ints >= 1")
        return sorted(v)

    @model_validator(mode="after")
    def _k_within_draw(self) -> RetrievalConfig:
        if max(self.k) > self.draw_size:
            raise ValueError(
                f"`retrieval.k` must not exceed `retrieval.draw_size` ({self.draw_size}); "
                f"got k = {self.k}"
            )
        return self


class DecodeConfig(_Strict):
    """A decoding study: tasks, their data and heads, nulls, output folder."""

    name: str = "decoding-study"
    tasks: list[str] = Field(default_factory=lambda: ["faces", "sentences"])
    faces: FacesTaskConfig = Field(default_factory=FacesTaskConfig)
    digits: DigitsTaskConfig = Field(default_factory=DigitsTaskConfig)
    sentences: SentencesTaskConfig = Field(default_factory=SentencesTaskConfig)
    story: StoryTaskConfig = Field(default_factory=StoryTaskConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    #: Null controls: test brain rows shuffled, and / or Gaussian noise with their statistics.
    nulls: list[str] = Field(default_factory=lambda: list(_NULLS))
    #: Null runs per null kind (p-values cannot go below 1 / (n_permutations + 1)).
    n_permutations: int = Field(20, ge=1)
    #: Refit the decoder on null training data too (default: only the test input changes).
    null_refit: bool = False
    seed: int = Field(0, ge=0)
    #: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    #: Output folder; relative to the working directory.
    output: Path = Path("decode_results")

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in TASKS]
        if unknown:
            raise ValueError(
                f"unknown task(s) {unknown}; expected a non-empty subset of {list(TASKS)}"
            )
        if not v or len(set(v)) != len(v):
            raise ValueError(f"must be a non-empty list of distinct tasks from {list(TASKS)}")
        return [t for t in TASKS if t in v]  # run in the canonical order

    @field_validator("nulls")
    @classmethod
    def _nulls(cls, v: list[str]) -> list[str]:
        bad = [n for n in v if n not in _NULLS]
        if bad or not v or len(set(v)) != len(v):
            raise ValueError(f"must be a non-empty list of distinct null kinds from {list(_NULLS)}")
        return v

    def task_permutations(self, task: str) -> int:
        """Null runs per null kind for ``task`` (its override, else ``n_permutations``)."""
        own = getattr(getattr(self, task), "n_permutations", None)
        return int(own) if own is not None else int(self.n_permutations)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = DecodeConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        model = fields[part].annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
    return model


def _format_errors(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            owner = _model_at(e["loc"])
            valid = sorted(owner.model_fields) if owner is not None else []
            lines.append(f"unknown key `{where}`; valid keys here are {valid}")
        else:
            msg = str(e["msg"]).removeprefix("Value error, ")
            lines.append(f"`{where}`: {msg} (got {e.get('input')!r})")
    return f"Invalid decoding configuration in {source}:\n  - " + "\n  - ".join(lines)


def load_decode_config(source: str | Path | dict[str, Any] | DecodeConfig) -> DecodeConfig:
    """Read a YAML file (or a mapping) into a validated :class:`DecodeConfig`.

    Parameters
    ----------
    source : path, mapping or DecodeConfig
        A YAML file (model paths in it are relative to the file), a mapping, or a config (returned
        as is).

    Returns
    -------
    DecodeConfig

    Raises
    ------
    ConfigError
        Missing file, invalid YAML, unknown keys (the valid ones are listed), unknown tasks or
        null kinds, out-of-range values.
    """
    if isinstance(source, DecodeConfig):
        return source
    raw, where = read_config_mapping(source)
    if not isinstance(source, dict):
        raw = _resolve_paths(raw, Path(source).parent)
    try:
        return DecodeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from None


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the path keys of a YAML file relative to the file's folder."""
    out = dict(raw)
    keys = dict(_PATH_KEYS, story="lm")
    for task, key in [*keys.items(), ("story", "embedder")]:
        section = out.get(task)
        if isinstance(section, dict) and isinstance(section.get(key), str):
            value = Path(section[key]).expanduser()
            if not value.is_absolute():
                out[task] = dict(out[task], **{key: str(base / value)})
    return out

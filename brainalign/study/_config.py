"""Strict configuration of an encoding study (unknown keys are refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from brainalign.exceptions import ConfigError

__all__ = [
    "AlignmentConfig",
    "ArrayDataConfig",
    "EvaluationConfig",
    "ModelConfig",
    "StudyConfig",
    "SyntheticDataConfig",
    "load_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SyntheticDataConfig(_Strict):
    """Simulated data from :func:`brainalign.datasets.make_encoding_data`."""

    kind: Literal["synthetic"] = "synthetic"
    n_runs: int = Field(5, ge=2)
    n_samples_per_run: int = Field(300, ge=10)
    band_sizes: dict[str, int] = Field(default_factory=lambda: {"semantic": 60, "lowlevel": 10})
    n_targets: int = Field(1000, ge=1)
    sfreq: float = Field(0.5, gt=0)
    response: Literal["hrf", "fir", "none"] = "hrf"
    snr: float | tuple[float, float] = (0.1, 2.0)
    feature_autocorrelation: float = Field(0.3, ge=0, lt=1)
    noise_autocorrelation: float = Field(0.2, ge=0, lt=1)
    random_state: int = 0


class ArrayDataConfig(_Strict):
    """Arrays already on the sample grid, from ``.npz`` or HDF5.

    The file holds ``Y`` (n_samples, n_targets), ``groups`` (n_samples,) run labels, one
    array per band named ``X_<band>`` (npz) or ``X/<band>`` (HDF5), and ``sfreq`` (Hz) unless
    given here.
    """

    kind: Literal["arrays"] = "arrays"
    path: Path
    bands: list[str] | None = None
    sfreq: float | None = Field(None, gt=0)


class AlignmentConfig(_Strict):
    """How features are put on the response clock (see :func:`brainalign.alignment.make_design`)."""

    delays: list[float] | None = Field(default_factory=lambda: [2.0, 4.0, 6.0, 8.0])
    hrf_model: str | None = None
    trim: tuple[float, float] = (0.0, 0.0)
    zscore: bool = True

    @model_validator(mode="after")
    def _delays_or_hrf(self) -> AlignmentConfig:
        if self.hrf_model is not None and self.delays is not None:
            raise ValueError(
                "delays and hrf_model are exclusive (FIR delays or a canonical HRF); set "
                "`delays: null` to use hrf_model"
            )
        return self


class LogSpace(_Strict):
    """``numpy.logspace(start, stop, num)``."""

    start: float
    stop: float
    num: int = Field(ge=1)


class ModelConfig(_Strict):
    """The encoder and its hyperparameter search."""

    kind: Literal["banded_ridge", "ridge"] = "banded_ridge"
    alphas: list[float] | LogSpace = Field(
        default_factory=lambda: LogSpace(start=-2, stop=8, num=21)
    )
    n_iter: int = Field(20, ge=1)
    solver: Literal["auto", "primal", "dual"] = "auto"
    random_state: int = 0

    @field_validator("alphas")
    @classmethod
    def _positive(cls, v: Any) -> Any:
        if isinstance(v, list) and (not v or any(a <= 0 for a in v)):
            raise ValueError("alphas must be a non-empty list of positive numbers")
        return v

    def alpha_grid(self) -> np.ndarray:
        if isinstance(self.alphas, LogSpace):
            return np.logspace(self.alphas.start, self.alphas.stop, self.alphas.num)
        return np.asarray(self.alphas, dtype=float)


class EvaluationConfig(_Strict):
    """Outer cross-validation and nulls. Model selection happens inside each training set."""

    cv: Literal["leave_one_run_out"] | Annotated[int, Field(ge=2)] = "leave_one_run_out"
    scoring: Literal["correlation", "r2"] = "correlation"
    n_permutations: int = Field(0, ge=0)
    permutation_block_s: float = Field(20.0, gt=0)
    fdr_alpha: float = Field(0.05, gt=0, lt=1)


class StudyConfig(_Strict):
    """A whole encoding study: data, alignment, model, evaluation, output folder."""

    name: str = "encoding-study"
    data: SyntheticDataConfig | ArrayDataConfig = Field(
        default_factory=SyntheticDataConfig, discriminator="kind"
    )
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    #: Output folder; a relative path is relative to the working directory.
    output: Path = Path("results")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config class that owns the location ``loc`` (without its last element)."""
    model: Any = StudyConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part in fields:
            ann = fields[part].annotation
            model = ann
        elif part in ("synthetic", "arrays"):
            model = SyntheticDataConfig if part == "synthetic" else ArrayDataConfig
        else:
            return None
        if not isinstance(model, type):
            args = getattr(model, "__args__", ())
            model = next(
                (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None
            )
            if model is None:
                return None
    return model if isinstance(model, type) else None


def _format_errors(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if p not in ("synthetic", "arrays"))
        where = ".".join(str(p) for p in loc) or "<root>"
        if e["type"] == "extra_forbidden":
            owner = _model_at(e["loc"])
            valid = sorted(owner.model_fields) if owner is not None else []
            lines.append(f"unknown key `{where}`; valid keys here are {valid}")
        elif e["type"] in ("union_tag_not_found", "union_tag_invalid"):
            lines.append(
                f"`{where}.kind` is required and must be one of 'synthetic', 'arrays' "
                f"(got {e.get('input')!r})"
            )
        else:
            lines.append(f"`{where}`: {e['msg']} (got {e.get('input')!r})")
    return f"Invalid configuration in {source}:\n  - " + "\n  - ".join(lines)


def read_config_mapping(source: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw mapping of a YAML config file (or a mapping as is), and where it came from.

    Raises
    ------
    ConfigError
        Missing file, invalid YAML, or a file that does not hold a mapping.
    """
    import yaml

    if isinstance(source, dict):
        return source, "config mapping"
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"`config` must be an existing YAML file; got {str(path)!r} (not found)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"`config` {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"`config` {str(path)!r} must hold a mapping; got {type(raw).__name__}")
    return raw, str(path)


def load_config(source: str | Path | dict[str, Any]) -> StudyConfig:
    """Read a YAML file (or a mapping) into a validated :class:`StudyConfig`.

    Raises
    ------
    ConfigError
        Unknown keys (the valid ones are listed), wrong types, missing file.
    """
    raw, where = read_config_mapping(source)
    if not isinstance(source, dict):
        path = Path(source)
        # Relative paths in the file are relative to the file.
        data = raw.get("data")
        if isinstance(data, dict) and "path" in data and not Path(data["path"]).is_absolute():
            data = dict(data, path=str(path.parent / data["path"]))
            raw = dict(raw, data=data)
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from None

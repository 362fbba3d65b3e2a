"""Per-word features from every hidden layer of a text model (causal LM or bidirectional encoder).

Context policies
----------------
Words come from an events table (rows of type ``"Word"``, ``text`` column, onsets in s). The
words are joined with single spaces and tokenized **once**; each word's tokens are found from
the tokenizer's character offsets (see :mod:`brainalign.features._words`).

Causal models (GPT-2, Llama, SmolLM2), ``context_mode="naive"`` — the reference: word ``w``
is computed by its own forward pass over the tokens that end with the word's last token,
left-truncated to the budget: ``context`` tokens (``context_unit="tokens"``), or the tokens
of the last ``context`` words, word ``w`` included (``context_unit="words"``, also capped at
the model's maximum positions). ``n_words`` forwards of up to ``context`` tokens.

Causal models, ``context_mode="strided"`` (default) — the same budget, without one forward
per word. The token stream is cut into windows of at most ``context + stride`` units (tokens
or words) that start where some word's naive context starts. A window serves a word only if it
holds the word's whole naive context, i.e. the word sees **at least** its naive context and
**at most** ``context + stride`` units of it (the words of the first window see everything from
the start of the text). Windows go through the model in batches (right-padded, with an
attention mask). Consequences:

- when the whole text fits in the budget, there is one window and the features **equal** the
  naive ones (to float32 rounding: causal attention makes a token's state independent of
  the tokens after it);
- otherwise the features are an approximation of the naive ones: each word sees between
  ``context`` and ``context + stride`` units of context instead of exactly ``context``
  (words whose window starts where their naive context starts are still exact). Models
  with absolute position embeddings (GPT-2) also see the word at another position, so they
  agree less than rotary-position models (Llama, SmolLM2), whose embedding layer is exact.
  ``benchmarks/bench_text_features.py`` measures the agreement and the speed-up on SmolLM2.
  Token-forwards: naive ``≈ n_words * context``, strided
  ``≈ n_tokens / stride * (context + stride)``; with the default ``stride = context // 2``
  that is ``≈ 3 * n_tokens``, about ``context / 4`` times fewer for English text.

Mean pooling takes a word's tokens inside its naive context only (a word longer than the
budget keeps its last ``context`` tokens), in both modes.

BOS policy (``bos``): ``"auto"`` prepends the tokenizer's BOS token to **every** window if the
tokenizer itself adds it (Llama-3 style), ``"always"`` prepends it, ``"never"`` does not; the
naive and strided modes follow the same policy. BOS is not counted in the budget; the budget
plus BOS must fit in the model's maximum positions.

Bidirectional encoders (BERT, MiniLM) and causal models alike, ``context_mode="sentence"``
(default for encoders): every sentence (split after words that end in ``.``, ``!``, ``?``,
``…``) is encoded on its own, with the tokenizer's special tokens (``[CLS]`` ... ``[SEP]``);
``"window"``: consecutive, non-overlapping windows of ``context`` words or tokens. A sentence
or window longer than the model's maximum positions is split between words. Word features
pool the word's tokens (``mean`` by default for encoders). With ``sentence_embedding=True``
a band ``"sentence"`` gives each word the mean of the last layer over every token of its
sentence or window, special tokens included, as sentence-transformers' mean pooling does
(all-MiniLM-L6-v2 then L2-normalises it; this band is not normalised). In the causal modes,
that band comes from a separate pass over the sentences.

Layers: ``layer_<i>`` is hidden state ``i`` as returned by transformers
(``output_hidden_states=True``): ``layer_0`` the embeddings, ``layer_<n_layers>`` the last
layer's output (after the final norm for Llama). With several poolings the names get a
suffix, ``layer_6.last`` and ``layer_6.mean``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator

from brainalign.data._featureset import FeatureSet
from brainalign.features._base import FeatureExtractor, content_uid
from brainalign.features._config import ExtractorConfig
from brainalign.features._hf import quiet_transformers
from brainalign.features._words import (
    align_tokens,
    join_words,
    pool_words,
    split_sentences,
    words_from_events,
)

__all__ = ["TextConfig", "TextExtractor", "read_word_events"]

Pooling = Literal["last", "mean"]
_CAUSAL_MODES = ("strided", "naive")


class TextConfig(ExtractorConfig):
    """Configuration of :class:`TextExtractor`.

    Parameters
    ----------
    model : str
        A local model folder or ``.gguf`` file (e.g. :func:`smollm2_path`,
        :func:`minilm_path`), or a hub id with ``local_files_only=False``.
    pooling : {"last", "mean"} or list of them, optional
        How a word's tokens become one vector. Default ``"last"`` for causal models (the
        state at the word's last token, which has seen the whole word) and ``"mean"`` for
        encoders. A list stores each pooling, as ``layer_<i>.<pooling>``.
    context_mode : {"strided", "naive", "sentence", "window"}, optional
        See the module notes. Default ``"strided"`` for causal models and ``"sentence"`` for
        encoders. ``"strided"`` and ``"naive"`` need a causal model.
    context : int
        The context budget: tokens or words (``context_unit``) that each word sees, itself
        included (causal modes); the window length (``"window"``).
    context_unit : {"tokens", "words"}
        Unit of ``context`` and ``stride``.
    stride : int, optional
        Strided mode: how far windows advance (same unit); each word sees between
        ``context`` and ``context + stride`` units. Default ``context // 2``.
    bos : {"auto", "always", "never"}
        BOS token policy of causal models (every window, naive and strided alike).
    sentence_embedding : bool
        Add a ``"sentence"`` band: each word gets the mean last-layer state of its sentence
        (or window).
    word_type : str or None
        The ``type`` of word rows in the events table (``None``: every row is a word).
    text_column : str
        The column that holds the words.
    causal : bool, optional
        Override the detection of causal models (from the model config).
    """

    family: ClassVar[str] = "text"

    pooling: Pooling | list[Pooling] | None = None
    context_mode: Literal["strided", "naive", "sentence", "window"] | None = None
    context: int = 256
    context_unit: Literal["tokens", "words"] = "tokens"
    stride: int | None = None
    bos: Literal["auto", "always", "never"] = "auto"
    sentence_embedding: bool = False
    word_type: str | None = "Word"
    text_column: str = "text"
    causal: bool | None = None

    @field_validator("context", "stride")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"must be >= 1; got {value}")
        return value

    @field_validator("pooling")
    @classmethod
    def _poolings(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError(f"must be a non-empty list without repeats; got {value}")
        return value


@dataclass
class _Window:
    """One forward input: token ids and, for the words it serves, their token positions."""

    ids: list[int]
    words: np.ndarray  # word indices served by this window
    first: np.ndarray  # position of each served word's first pooled token in `ids`
    last: np.ndarray  # position of each served word's last token in `ids`


def read_word_events(path: str | Path, *, text_column: str = "text") -> Any:
    """Read an events TSV (BIDS ``events.tsv`` style) without turning words into NaN.

    ``"n/a"`` and empty cells of ``onset`` / ``duration`` become NaN; every cell of
    ``text_column`` (and of every other column) stays a string, so the words ``"NA"`` or
    ``"null"`` survive.

    Parameters
    ----------
    path : str or Path
        Tab-separated file with ``onset``, ``duration``, ``type`` and ``text_column``.
    text_column : str
        The column that holds the words (checked to exist).

    Returns
    -------
    pandas.DataFrame
    """
    from brainalign.features._media import read_events_tsv

    df = read_events_tsv(path)
    if text_column not in df.columns:
        raise ValueError(
            f"events file {str(path)!r} must have a {text_column!r} column with the words; got "
            f"columns {list(df.columns)}"
        )
    return df


class TextExtractor(FeatureExtractor):
    """Per-word features from every hidden layer of a transformers text model.

    Parameters
    ----------
    config : TextConfig or dict, optional
        The configuration; keyword arguments override or complete it.
    backbone, tokenizer : optional
        An already loaded model (``AutoModel``-like, returning ``hidden_states``) and fast
        tokenizer, used instead of loading ``config.model`` (which then only names them in
        the cache key: set ``revision`` to tell versions apart). The backbone must already be
        on ``config.device``.
    **kwargs
        :class:`TextConfig` fields.

    Examples
    --------
    >>> from brainalign.features import TextExtractor, smollm2_path  # doctest: +SKIP
    >>> ext = TextExtractor(model=str(smollm2_path()), context=256, layers=[15, -1])
    >>> feats = ext.extract(events)  # FeatureSet: times = word onsets, (n_words, 576) per layer
    """

    config_class = TextConfig
    config: TextConfig

    def __init__(
        self,
        config: TextConfig | dict[str, Any] | None = None,
        *,
        backbone: Any = None,
        tokenizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        if (backbone is None) != (tokenizer is None):
            raise ValueError("`backbone` and `tokenizer` must be given together (or neither)")
        if backbone is not None:
            _check_backbone_device(backbone, self.config.device)
        self._model = backbone
        self._tokenizer = tokenizer
        self._model_cfg = backbone.config if backbone is not None else None

    # ------------------------------------------------------------------ model and settings
    def load_stimulus(self, path: str | Path) -> Any:
        """Read an events TSV into a DataFrame (used by ``brainalign extract``)."""
        return read_word_events(path, text_column=self.config.text_column)

    def _hf_config(self) -> Any:
        if self._model_cfg is None:
            from transformers import AutoConfig

            from brainalign.features._models import _resolve

            name, extra = _resolve(
                self.config.model, self.config.local_files_only, self.config.revision
            )
            self._model_cfg = AutoConfig.from_pretrained(
                name, local_files_only=self.config.local_files_only, **extra
            )
        return self._model_cfg

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            from brainalign.features._models import load_text_model

            with quiet_transformers(self.config.verbose):
                self._model, self._tokenizer = load_text_model(
                    self.config.model,
                    device=self.config.device,
                    local_files_only=self.config.local_files_only,
                    revision=self.config.revision,
                )
            self._model_cfg = self._model.config
        return self._model, self._tokenizer

    @property
    def is_causal(self) -> bool:
        """Whether the model is a causal LM (``config.causal`` or detected)."""
        if self.config.causal is not None:
            return self.config.causal
        from brainalign.features._models import is_causal_model

        return is_causal_model(self._hf_config())

    @property
    def n_hidden_states(self) -> int:
        """``n_layers + 1`` (embeddings first)."""
        return int(self._hf_config().num_hidden_layers) + 1

    @property
    def context_mode(self) -> str:
        """The resolved context mode."""
        mode = self.config.context_mode
        if mode is None:
            return "strided" if self.is_causal else "sentence"
        return mode

    @property
    def poolings(self) -> list[str]:
        """The resolved poolings."""
        p = self.config.pooling
        if p is None:
            return ["last" if self.is_causal else "mean"]
        return [p] if isinstance(p, str) else list(p)

    @property
    def stride(self) -> int:
        """The resolved stride (``context // 2`` by default, at least 1)."""
        return self.config.stride or max(1, self.config.context // 2)

    def _max_positions(self) -> int | None:
        cfg = self._hf_config()
        limits = [getattr(cfg, "max_position_embeddings", None)]
        if self._tokenizer is not None:
            limits.append(getattr(self._tokenizer, "model_max_length", None))
        valid = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
        return min(valid) if valid else None

    def check(self) -> None:
        """Check the config against the model (loads only its config).

        Raises
        ------
        ValueError
            ``context_mode`` ``"strided"`` / ``"naive"`` with a non-causal model.
        IndexError
            A ``layers`` index out of range for the model.
        """
        mode = self.context_mode
        if mode in _CAUSAL_MODES and not self.is_causal:
            cfg = self._hf_config()
            raise ValueError(
                f"`context_mode={mode!r}` needs a causal language model, but "
                f"{self.config.model!r} is a bidirectional encoder (model_type "
                f"{getattr(cfg, 'model_type', '?')!r}). Use context_mode='sentence' or "
                f"'window', or set causal=True if the model is causal."
            )
        n = self.n_hidden_states
        for item in self.config.layers or []:
            if not isinstance(item, str) and not -n <= int(item) < n:
                raise IndexError(
                    f"`layers` index {item} is out of range: {self.config.model!r} has {n} "
                    f"hidden states ({n - 1} layers + embeddings; valid indices {-n}..{n - 1})"
                )

    # ------------------------------------------------------------------ interface
    def stimulus_uid(self, stimulus: Any) -> str:
        """Content hash of the words, onsets and durations of ``stimulus``."""
        words, onsets, durations = self._words(stimulus)
        return content_uid("\x1f".join(words), onsets, durations)

    def extract(self, stimulus: Any, *, uid: str | None = None) -> FeatureSet:
        """Per-word features of one events table (or events TSV path), cached.

        Parameters
        ----------
        stimulus : pandas.DataFrame or str or Path
            Events table (or TSV) with word rows.
        uid : str, optional
            Cache name of the stimulus (default: content hash of words and times).

        Returns
        -------
        FeatureSet
            ``times``: word onsets (s); ``durations``: word durations; one
            ``(n_words, n_dims)`` array per selected layer (and ``"sentence"`` if asked).
        """
        if isinstance(stimulus, (str, Path)):
            stimulus = self.load_stimulus(stimulus)
        self._words(stimulus)  # validate before anything is loaded
        self.check()
        return super().extract(stimulus, uid=uid)

    def compute(self, stimulus: Any, *, words: Any = None) -> FeatureSet:
        """All layers for the words of ``stimulus`` (no cache). See :meth:`extract`.

        Parameters
        ----------
        stimulus : pandas.DataFrame or str or Path
            Events table (or TSV) with word rows.
        words : array-like of int, optional
            Compute only these words (indices among the word rows), each with its full
            context from the whole text: only the windows that serve them are run. Used to
            spot-check a long text against ``context_mode="naive"`` at a fraction of its cost.

        Returns
        -------
        FeatureSet
            One row per word (per selected word when ``words`` is given).
        """
        if isinstance(stimulus, (str, Path)):
            stimulus = self.load_stimulus(stimulus)
        all_words, onsets, durations = self._words(stimulus)
        n = len(all_words)
        keep = None
        if words is not None:
            keep = np.unique(np.asarray(words, dtype=np.int64))
            if keep.size == 0 or keep[0] < 0 or keep[-1] >= n:
                raise IndexError(
                    f"`words` must be non-empty indices in [0, {n}); got {np.asarray(words)!r}"
                )
        self.check()
        self._load()
        mode = self.context_mode
        if mode in _CAUSAL_MODES:
            windows = self._causal_windows(all_words)
        else:
            windows = self._segment_windows(all_words, mode)
        same_pass = self.config.sentence_embedding and mode not in _CAUSAL_MODES
        layers, sentence = self._run(_restrict(windows, keep), n, same_pass)
        if self.config.sentence_embedding and mode in _CAUSAL_MODES:
            segments = _restrict(self._segment_windows(all_words, "sentence"), keep)
            _, sentence = self._run(segments, n, True)
        if sentence is not None:
            layers["sentence"] = sentence
        if keep is not None:
            layers = {k: v[keep] for k, v in layers.items()}
            onsets, durations = onsets[keep], durations[keep]
        return FeatureSet(times=onsets, layers=layers, durations=durations)

    def context_windows(self, stimulus: Any) -> list[tuple[int, int, np.ndarray]]:
        """The token windows that a causal mode runs, to inspect the context policy.

        Parameters
        ----------
        stimulus : pandas.DataFrame
            Events table with word rows.

        Returns
        -------
        list of (start, stop, words)
            Token range ``[start, stop)`` of the text's tokens (BOS not counted) and the
            indices of the words whose features come from that window.
        """
        words, _, _ = self._words(stimulus)
        self.check()
        if self.context_mode not in _CAUSAL_MODES:
            raise ValueError(
                f"`context_windows` describes the causal modes; context_mode is "
                f"{self.context_mode!r}"
            )
        self._load()
        _, first, last = self._tokenize_text(words)
        starts = self._context_starts(first, last)
        return [
            (a, b, served) for a, b, served in self._plan(first, last, starts, self.context_mode)
        ]

    # ------------------------------------------------------------------ words and plans
    def _words(self, stimulus: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
        return words_from_events(
            stimulus, word_type=self.config.word_type, text_column=self.config.text_column
        )

    def _bos(self) -> list[int]:
        policy = self.config.bos
        if policy == "never":
            return []
        tok = self._tokenizer
        bos_id = getattr(tok, "bos_token_id", None)
        if policy == "auto":
            ids = tok("a", add_special_tokens=True)["input_ids"]
            return [bos_id] if bos_id is not None and ids and ids[0] == bos_id else []
        if bos_id is None:
            bos_id = getattr(self._hf_config(), "bos_token_id", None)
        if bos_id is None:
            raise ValueError(
                f"`bos='always'` but the tokenizer of {self.config.model!r} defines no BOS "
                f"token; use bos='never' or 'auto'"
            )
        return [int(bos_id)]

    def _tokenize_text(self, words: list[str]) -> tuple[list[int], np.ndarray, np.ndarray]:
        text, spans = join_words(words)
        enc = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        first, last = align_tokens(enc["offset_mapping"], spans, words=words)
        return list(enc["input_ids"]), first, last

    def _max_tokens(self, n_bos: int) -> int:
        limit = self._max_positions()
        return 10**9 if limit is None else limit - n_bos

    def _context_starts(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Token where each word's naive context starts (non-decreasing)."""
        cfg = self.config
        max_tokens = self._max_tokens(len(self._bos()))
        if cfg.context_unit == "tokens":
            if cfg.context > max_tokens:
                raise ValueError(
                    f"`context={cfg.context}` tokens does not fit the model: it attends to at "
                    f"most {max_tokens} tokens (maximum positions "
                    f"{self._max_positions()}, minus BOS). Lower `context`."
                )
            return np.maximum(0, last + 1 - cfg.context)
        n = first.size
        starts = first[np.maximum(0, np.arange(n) - cfg.context + 1)]
        return np.maximum(starts, last + 1 - max_tokens)

    def _plan(
        self, first: np.ndarray, last: np.ndarray, starts: np.ndarray, mode: str
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Windows ``(start, stop, served words)``, in order."""
        n = first.size
        if mode == "naive":
            for w in range(n):
                yield int(starts[w]), int(last[w]) + 1, np.array([w])
            return
        cfg = self.config
        max_tokens = self._max_tokens(len(self._bos()))
        span = cfg.context + self.stride
        w = 0
        while w < n:
            a = int(starts[w])
            token_limit = min(span, max_tokens) if cfg.context_unit == "tokens" else max_tokens
            v = int(np.searchsorted(last, a + token_limit - 1, side="right"))  # last[v-1] < a+L
            if cfg.context_unit == "words":
                first_whole = int(np.searchsorted(first, a, side="left"))
                v = min(v, first_whole + span)
            v = max(v, w + 1)  # a word's own naive context always fits
            yield a, int(last[v - 1]) + 1, np.arange(w, v)
            w = v

    def _causal_windows(self, words: list[str]) -> list[_Window]:
        ids, first, last = self._tokenize_text(words)
        bos = self._bos()
        starts = self._context_starts(first, last)
        pool_first = np.maximum(first, starts)  # naive sees only these tokens of a long word
        out = []
        for a, b, served in self._plan(first, last, starts, self.context_mode):
            shift = len(bos) - a
            out.append(
                _Window(
                    ids=bos + ids[a:b],
                    words=served,
                    first=pool_first[served] + shift,
                    last=last[served] + shift,
                )
            )
        return out

    def _segments(self, words: list[str], mode: str) -> list[tuple[int, int]]:
        cfg = self.config
        if mode == "sentence":
            return split_sentences(words)
        if cfg.context_unit == "words":
            return [
                (i, min(i + cfg.context, len(words))) for i in range(0, len(words), cfg.context)
            ]
        _, first, last = self._tokenize_text(words)
        segments, start = [], 0
        for w in range(1, len(words) + 1):
            if w == len(words) or last[w] - first[start] + 1 > cfg.context:
                segments.append((start, w))
                start = w
        return segments

    def _encode_segments(self, words: list[str], segments: list[tuple[int, int]]) -> list[Any]:
        tok = self._tokenizer
        texts = [" ".join(words[a:b]) for a, b in segments]
        if self.is_causal:
            enc = tok(texts, add_special_tokens=False, return_offsets_mapping=True)
            bos = self._bos()
            return [
                (bos + list(ids), [(0, 0)] * len(bos) + list(offs), None)
                for ids, offs in zip(enc["input_ids"], enc["offset_mapping"])
            ]
        enc = tok(
            texts,
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        return list(zip(enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"]))

    def _segment_windows(self, words: list[str], mode: str) -> list[_Window]:
        limit = self._max_positions() or 10**9
        todo = self._segments(words, mode)
        out: list[_Window] = []
        while todo:
            encoded = self._encode_segments(words, todo)
            again: list[tuple[int, int]] = []
            for (a, b), (ids, offsets, special) in zip(todo, encoded):
                if len(ids) > limit:
                    if b - a == 1:
                        raise ValueError(
                            f"word {a} ({words[a]!r}) alone is {len(ids)} tokens, more than "
                            f"the model's {limit} positions"
                        )
                    mid = (a + b) // 2
                    again += [(a, mid), (mid, b)]
                    continue
                _, spans = join_words(words[a:b])
                first, last = align_tokens(offsets, spans, special_mask=special, words=words[a:b])
                out.append(_Window(list(ids), np.arange(a, b), first, last))
            todo = sorted(again)
        out.sort(key=lambda win: int(win.words[0]))
        return out

    # ------------------------------------------------------------------ forward passes
    def _run(
        self, windows: list[_Window], n_words: int, sentence: bool
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        import torch

        from brainalign._logging import progress

        model, tok = self._load()
        device = torch.device(self.config.device)
        pad_id = getattr(tok, "pad_token_id", None)
        pad_id = 0 if pad_id is None else int(pad_id)
        poolings = self.poolings
        n_states = self.n_hidden_states
        results: dict[tuple[int, str], np.ndarray] = {}
        sent_out: np.ndarray | None = None
        bs = self.config.batch_size
        batches = [windows[i : i + bs] for i in range(0, len(windows), bs)]
        extra = {"use_cache": False} if self.is_causal else {}
        for batch in progress(
            batches, desc="text windows", total=len(batches), verbose=self.config.verbose
        ):
            width = max(len(win.ids) for win in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for b, win in enumerate(batch):  # right padding
                ids[b, : len(win.ids)] = torch.as_tensor(win.ids, dtype=torch.long)
                mask[b, : len(win.ids)] = 1
            word_idx = np.concatenate([win.words for win in batch])
            flat_first = np.concatenate([win.first + b * width for b, win in enumerate(batch)])
            flat_last = np.concatenate([win.last + b * width for b, win in enumerate(batch)])
            with torch.inference_mode():
                out = model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    output_hidden_states=True,
                    **extra,
                )
            self.n_forward_calls += 1
            hidden = out.hidden_states
            if len(hidden) != n_states:
                raise RuntimeError(
                    f"the model returned {len(hidden)} hidden states; its config says "
                    f"{n_states} (num_hidden_layers + 1)"
                )
            for li, h in enumerate(hidden):
                flat = h.reshape(-1, h.shape[-1]).float()
                for p in poolings:
                    arr = results.get((li, p))
                    if arr is None:
                        arr = results[(li, p)] = np.zeros((n_words, h.shape[-1]), np.float32)
                    arr[word_idx] = pool_words(flat, flat_first, flat_last, p).cpu().numpy()
            if sentence:
                last_h = hidden[-1].float()
                m = mask.to(last_h.device, last_h.dtype)[..., None]
                means = ((last_h * m).sum(1) / m.sum(1)).cpu().numpy()
                if sent_out is None:
                    sent_out = np.zeros((n_words, means.shape[1]), np.float32)
                for b, win in enumerate(batch):
                    sent_out[win.words] = means[b]
        suffix = len(poolings) > 1
        layers = {
            (f"layer_{li}.{p}" if suffix else f"layer_{li}"): results[(li, p)]
            for li in range(n_states)
            for p in poolings
        }
        return layers, sent_out


def _check_backbone_device(backbone: Any, device: str) -> None:
    """Refuse a backbone whose weights are not on ``device`` (inputs go to ``device``)."""
    import torch

    params = getattr(backbone, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    if first is None:
        return
    want, have = torch.device(device), first.device
    if want.type != have.type or (
        want.index is not None and have.index is not None and want.index != have.index
    ):
        raise ValueError(
            f"`backbone` is on device {str(have)!r} but `device` is {device!r}; the inputs go "
            f"to `device`. Pass device={str(have)!r} or move the model with .to({device!r})"
        )


def _restrict(windows: list[_Window], keep: np.ndarray | None) -> list[_Window]:
    """The windows that serve some of the words ``keep``, serving only those."""
    if keep is None:
        return windows
    out = []
    for win in windows:
        sel = np.isin(win.words, keep)
        if sel.any():
            out.append(_Window(win.ids, win.words[sel], win.first[sel], win.last[sel]))
    return out

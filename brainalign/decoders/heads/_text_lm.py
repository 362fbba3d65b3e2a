"""A causal language model seen word by word: the LM side of the beam-search text decoder.

:class:`WordLM` tokenizes words as they appear in running text, runs the parents' contexts
once and the candidates' tokens on top of their key/value cache, proposes whole next words
(word-start tokens in the nucleus, completed greedily) and gives per-word features that equal
:class:`~brainalign.features.TextExtractor`'s naive word-context features. See
:mod:`brainalign.decoders.heads._text_search` for the algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brainalign._logging import progress
from brainalign._validation import check_choice

__all__ = ["WordLM"]

_SPACE_MARKERS = ("Ġ", "▁", " ")


class WordLM:
    """A causal LM with its tokenizer, seen word by word."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        layer: int | None,
        context: int,
        bos: str,
        batch_size: int,
    ) -> None:
        import torch

        self.model = model
        self.tok = tokenizer
        self.context = int(context)
        self.batch_size = int(batch_size)
        self.device = next(model.parameters()).device
        n_layers = int(model.config.num_hidden_layers)
        n_states = n_layers + 1
        if layer is None:
            layer = round(2 * n_layers / 3)
        if not -n_states <= int(layer) < n_states:
            raise IndexError(
                f"`layer` must index the model's {n_states} hidden states (embeddings + "
                f"{n_layers} layers; valid {-n_states}..{n_states - 1}); got {layer}"
            )
        self.layer = int(layer) % n_states
        self.n_dims = int(model.config.hidden_size)
        self.pad_id = next(
            (
                int(i)
                for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id)
                if i is not None
            ),
            0,
        )
        self.bos = self._bos_ids(bos)
        self._word_cache: dict[tuple[str, bool], tuple[tuple[int, ...], int]] = {}
        # vocabulary masks: tokens that start a word, tokens that continue one
        vocab = min(len(tokenizer), int(model.config.vocab_size))
        raw = tokenizer.convert_ids_to_tokens(list(range(vocab)))
        special = set(tokenizer.all_special_ids)
        starts = np.zeros(int(model.config.vocab_size), dtype=bool)
        conts = np.zeros(int(model.config.vocab_size), dtype=bool)
        for i, t in enumerate(raw):
            if t is None or i in special:
                continue
            text = tokenizer.convert_tokens_to_string([t])
            if t.startswith(_SPACE_MARKERS) or text.startswith(" "):
                body = text.strip()
                starts[i] = any(c.isalnum() for c in body) and _printable(body)
            elif text and _printable(text):
                conts[i] = True
        if not starts.any():
            raise ValueError(
                "the tokenizer has no word-start tokens (a leading space marker 'Ġ' or '▁' "
                "followed by letters or digits); word-level proposals need a byte-level BPE or "
                "SentencePiece-style tokenizer"
            )
        self.starts = torch.as_tensor(starts, device=self.device)
        self.conts = conts

    # ------------------------------------------------------------------ tokens
    def _bos_ids(self, policy: str) -> list[int]:
        check_choice(policy, "bos", ("auto", "always", "never"))
        bos_id = getattr(self.tok, "bos_token_id", None)
        if policy == "never":
            return []
        if policy == "auto":
            ids = self.tok("a", add_special_tokens=True)["input_ids"]
            return [int(bos_id)] if bos_id is not None and ids and ids[0] == bos_id else []
        if bos_id is None:
            bos_id = getattr(self.model.config, "bos_token_id", None)
        if bos_id is None:
            raise ValueError("`bos='always'` but the tokenizer defines no BOS token")
        return [int(bos_id)]

    def word_tokens(self, word: str, first: bool, *, lead: bool = True) -> tuple[int, ...]:
        """Token ids of ``word`` as it appears in running text (first word or later).

        ``lead=True`` includes the tokens between the previous word and this one that belong
        to no word (a lone space token, with some tokenizers): they are part of a window
        that continues past the previous word, but not of one that starts at this word.
        """
        key = (word, first)
        cached = self._word_cache.get(key)
        if cached is None:
            from brainalign.features._words import align_tokens

            text = word if first else "x " + word
            start = 0 if first else 2
            enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
            a, b = align_tokens(enc["offset_mapping"], [[start, start + len(word)]], words=[word])
            if first:
                n_lead = 0
            else:  # tokens after those of "x"
                offsets = np.asarray(enc["offset_mapping"]).reshape(-1, 2)
                n_x = int(np.sum(offsets[:, 0] < 1))
                n_lead = int(a[0]) - n_x
            ids = tuple(int(i) for i in enc["input_ids"][int(a[0]) - n_lead : int(b[0]) + 1])
            cached = self._word_cache[key] = (ids, n_lead)
        ids, n_lead = cached
        return ids if lead else ids[n_lead:]

    def prefix_ids(self, words: Sequence[str]) -> list[int]:
        """Context of the next word: BOS + the last ``context - 1`` words of ``words``."""
        n = len(words)
        lo = max(0, n - self.context + 1)
        ids = list(self.bos)
        for i in range(lo, n):
            ids.extend(self.word_tokens(words[i], i == 0, lead=i > lo))
        return ids

    def candidate_ids(self, words: Sequence[str]) -> tuple[int, ...]:
        """Tokens of the last of ``words`` after :meth:`prefix_ids` of the others."""
        n = len(words)
        return self.word_tokens(words[-1], n == 1, lead=self.context > 1)

    def decode_word(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True).strip()

    # ------------------------------------------------------------------ forwards
    def prefix(self, prefixes: list[list[int]]) -> dict[str, Any]:
        """Run contexts once (left-padded): their key/value cache and last-token logits.

        Returns a state ``{"kv", "mask", "lengths", "logits"}``: per layer (keys, values)
        of shape (n, heads, width, head_dim) or None when every context is empty, the
        attention mask (n, width), the number of real tokens (n,), and the next-token
        logits (n, vocab) or None.
        """
        import torch

        n = len(prefixes)
        width = max((len(p) for p in prefixes), default=0)
        mask = torch.zeros((n, width), dtype=torch.long)
        if width == 0:
            zeros = torch.zeros(n, dtype=torch.long)
            return {"kv": None, "mask": mask, "lengths": zeros, "logits": None}
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        for i, p in enumerate(prefixes):
            if p:
                ids[i, width - len(p) :] = torch.as_tensor(p, dtype=torch.long)
                mask[i, width - len(p) :] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=pos.to(self.device),
                use_cache=True,
                logits_to_keep=1,
            )
        kv = [(layer.keys, layer.values) for layer in out.cache.layers]
        logits = out.logits[:, -1].float()
        return {"kv": kv, "mask": mask, "lengths": mask.sum(1), "logits": logits}

    def extend(
        self,
        state: dict[str, Any],
        parent: np.ndarray,
        tokens: list[Sequence[int]],
        *,
        keep_state: bool = False,
    ) -> tuple[np.ndarray, Any, dict[str, Any] | None]:
        """Run each candidate's tokens after its parent's context (row ``parent[i]``).

        Returns the feature (hidden state ``layer`` at the last token), shape (n, n_dims),
        the next-token logits, a tensor (n, vocab), and with ``keep_state`` the state of
        the extended contexts (all rows in one forward; right padding stays masked).
        """
        import torch
        from transformers import DynamicCache

        feats = np.zeros((len(tokens), self.n_dims), dtype=np.float32)
        logits_out = []
        new_state = None
        step = len(tokens) if keep_state else self.batch_size
        for start in range(0, len(tokens), max(step, 1)):
            rows = np.arange(start, min(start + step, len(tokens)))
            par = torch.as_tensor(parent[rows], dtype=torch.long)
            width = max(len(tokens[r]) for r in rows)
            ids = torch.full((rows.size, width), self.pad_id, dtype=torch.long)
            cmask = torch.zeros((rows.size, width), dtype=torch.long)
            for j, r in enumerate(rows):
                ids[j, : len(tokens[r])] = torch.as_tensor(list(tokens[r]), dtype=torch.long)
                cmask[j, : len(tokens[r])] = 1
            mask = torch.cat([state["mask"][par], cmask], dim=1)
            pos = state["lengths"][par][:, None] + torch.arange(width)[None]
            kwargs: dict[str, Any] = {}
            if state["kv"] is not None:
                pdev = par.to(self.device)
                kwargs["cache"] = DynamicCache(
                    ddp_cache_data=[(k[pdev], v[pdev]) for k, v in state["kv"]]
                )
            last = torch.as_tensor([len(tokens[r]) - 1 for r in rows], device=self.device)
            keep = torch.unique(last)  # the LM head runs on these positions only
            with torch.inference_mode():
                out = self.model(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=pos.to(self.device),
                    output_hidden_states=True,
                    use_cache=keep_state or state["kv"] is not None,
                    logits_to_keep=keep,
                    **kwargs,
                )
            batch = torch.arange(rows.size, device=self.device)
            feats[rows] = out.hidden_states[self.layer][batch, last].float().cpu().numpy()
            logits = out.logits[batch, torch.searchsorted(keep, last)].float()
            logits_out.append(logits)
            if keep_state:
                new_state = {
                    "kv": [(layer.keys, layer.values) for layer in out.cache.layers],
                    "mask": mask,
                    "lengths": state["lengths"][par] + cmask.sum(1),
                    "logits": logits,
                }
        return feats, torch.cat(logits_out) if logits_out else None, new_state

    def proposals(
        self, logits: Any, *, n_candidates: int, top_p: float, min_ratio: float
    ) -> list[list[tuple[int, float]]]:
        """Word-start tokens in the nucleus of each row's next-token distribution."""
        import torch

        probs = torch.softmax(logits.float(), dim=-1)
        probs = torch.where(self.starts[: probs.shape[1]], probs, torch.zeros_like(probs))
        probs = probs / probs.sum(-1, keepdim=True).clamp(min=1e-30)
        k = min(int(n_candidates), int(self.starts.sum()))
        top = torch.topk(probs, k, dim=-1)
        vals = top.values.cpu().numpy()
        idx = top.indices.cpu().numpy()
        out = []
        for v, i in zip(vals, idx):
            before = np.concatenate([[0.0], np.cumsum(v)[:-1]])
            keep = (before < top_p) & (v >= min_ratio * v[0]) & (v > 0)
            keep[0] = True
            out.append([(int(t), float(p)) for t, p, ok in zip(i, v, keep) if ok])
        return out

    def complete(
        self,
        state: dict[str, Any],
        parent: np.ndarray,
        first: list[int],
        max_word_tokens: int,
    ) -> list[list[int]]:
        """Greedy completion of each candidate's first token into a word (in ``state``)."""
        tokens = [[t] for t in first]
        todo = np.arange(len(first))
        while todo.size:
            todo = todo[[len(tokens[i]) < max_word_tokens for i in todo]]
            if not todo.size:
                break
            _, lg, _ = self.extend(state, parent[todo], [tokens[i] for i in todo])
            nxt = lg.argmax(-1).cpu().numpy()
            more = []
            for j, i in enumerate(todo):
                if self.conts[nxt[j]]:
                    tokens[i].append(int(nxt[j]))
                    more.append(i)
            todo = np.asarray(more, dtype=np.intp)
        return tokens

    def history_ids(self, prompt_ids: list[int], words: Sequence[str]) -> list[int]:
        """LM context of the proposals: the prompt, then each word with a leading space."""
        ids = list(prompt_ids)
        for w in words:
            ids.extend(self.word_tokens(w, False, lead=False))
        return ids

    def word_features(self, words: Sequence[str], verbose: Any = None) -> np.ndarray:
        """Per-word features of a text (the naive, word-context features)."""
        n = len(words)
        feats = np.zeros((n, self.n_dims), dtype=np.float32)
        chunks = [np.arange(i, min(i + self.batch_size, n)) for i in range(0, n, self.batch_size)]
        for rows in progress(chunks, desc="word features", total=len(chunks), verbose=verbose):
            state = self.prefix([self.prefix_ids(words[: int(i)]) for i in rows])
            toks = [self.candidate_ids(words[: int(i) + 1]) for i in rows]
            feats[rows], _, _ = self.extend(state, np.arange(rows.size), toks)
        return feats


def _printable(text: str) -> bool:
    """No whitespace, control characters or undecodable bytes."""
    return all(c.isprintable() and not c.isspace() for c in text) and "\ufffd" not in text

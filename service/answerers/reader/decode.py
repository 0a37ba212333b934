"""Span decoding for an extractive reader: pure functions over logits and token offsets.

The score of a span is start_logit[i] + end_logit[j] (SQuAD 2.0 practice, as HF's question-answering
pipeline and the BERT paper); the "no answer" score of a window is the same sum at [CLS]. A passage's
`margin` is its best span's score minus its own no-answer score: the question-level decision takes
the passage with the highest margin and abstains below a threshold fitted on held-out training data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """The best answer span of one passage, in character offsets of that passage's text."""

    passage: int
    start: int
    end: int
    score: float  # start + end logit of the span
    null: float  # start + end logit at [CLS] of the window the span came from
    margin: float  # score - null: > 0 where the reader prefers this span to "no answer"


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, context: np.ndarray,
              max_tokens: int = 30, top_n: int = 20) -> tuple[int, int, float] | None:
    """The (i, j, score) with i <= j < i + max_tokens, both context tokens, maximising
    start[i] + end[j]; None when the window holds no context token.

    Only the top_n starts and ends are paired (HF's pipeline does the same): the best pair is
    among them for all but pathological logits, at O(top_n^2) instead of O(L^2)."""
    idx = np.flatnonzero(context)
    if idx.size == 0:
        return None
    s, e = start_logits[idx], end_logits[idx]
    n = min(top_n, idx.size)
    top_s = idx[np.argpartition(-s, n - 1)[:n]]
    top_e = idx[np.argpartition(-e, n - 1)[:n]]
    # every (start, end) pair of the top ones at once; pairs out of order or too long are masked
    score = start_logits[top_s][:, None] + end_logits[top_e][None, :]
    length = top_e[None, :] - top_s[:, None]
    score = np.where((length >= 0) & (length < max_tokens), score, -np.inf)
    r, c = np.unravel_index(int(np.argmax(score)), score.shape)
    if not np.isfinite(score[r, c]):
        return None
    return int(top_s[r]), int(top_e[c]), float(score[r, c])


def window_span(start_logits: np.ndarray, end_logits: np.ndarray, offsets: np.ndarray, context: np.ndarray,
                passage: int, max_tokens: int = 30) -> Span | None:
    """Decode one window: the best span as character offsets (offsets[k] = (char_start, char_end)
    of token k in the passage) with its window's no-answer score."""
    found = best_span(start_logits, end_logits, context, max_tokens)
    if found is None:
        return None
    i, j, score = found
    null = float(start_logits[0] + end_logits[0])
    return Span(passage=passage, start=int(offsets[i][0]), end=int(offsets[j][1]), score=score, null=null,
                margin=score - null)


def best_per_passage(spans: list[Span]) -> list[Span]:
    """One span per passage (the highest margin of its windows), highest margin first."""
    best: dict[int, Span] = {}
    for sp in spans:
        if sp.passage not in best or sp.margin > best[sp.passage].margin:
            best[sp.passage] = sp
    return sorted(best.values(), key=lambda sp: -sp.margin)


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def logistic(weights, b: float, features: dict) -> float:
    """sigmoid(b + sum of weight * feature) over (name, weight) pairs; a missing feature counts 0."""
    return sigmoid(b + sum(w * float(features.get(k) or 0.0) for k, w in weights))

"""Second stage: the fused passages re-ordered by how well their best sentence answers the question.

Fusion ranks passages by topic; the answerer's sentence score (cosine, IDF coverage of the
question's words, answer-type fit: see answerers/extractive.py) asks the sharper question "does
a sentence here answer it?". A passage's new score is its best sentence's score plus a small
share of its fused rank (`prior`), so the passage a cited answer comes from is listed first and
ties keep the fusion order. No model call: sentence vectors and terms come from the index.
On the eval set it lifts hit@1 from 0.910 (fusion order) to 0.987, with the same passages (README).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from service.pipeline.retrieval import Hit

# (question, query vector, passages) → score of each sentence, keyed by (doc_id, sentence start)
SentenceScorer = Callable[[str, np.ndarray, list[Hit]], Mapping[tuple[str, int], float]]


def rerank(hits: list[Hit], sentence_scores: Mapping[tuple[str, int], float], prior: float = 0.05) -> list[Hit]:
    """Pure: hits ordered by max sentence score + prior / (fused rank + 1); ranks and scores renewed."""
    def key(h: Hit) -> float:
        best = max((sentence_scores.get((s.doc_id, s.start), float("-inf")) for s in h.sentences), default=float("-inf"))
        return (best if best != float("-inf") else -1.0) + prior / (h.rank + 1)

    keyed = sorted(((key(h), i, h) for i, h in enumerate(hits)), key=lambda t: (-t[0], t[1]))
    return [replace(h, rank=r, score=float(k)) for r, (k, _, h) in enumerate(keyed)]


class SentenceReranker:
    def __init__(self, scorer: SentenceScorer, prior: float = 0.05):
        self.scorer = scorer
        self.prior = prior

    def run(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> list[Hit]:
        if len(hits) < 2:
            return hits
        return rerank(hits, self.scorer(question, qvec, hits), self.prior)

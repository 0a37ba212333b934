"""Hybrid retrieval: three rankings of the candidate passages fused by reciprocal rank.

1. dense: cosine of the question and the passage vector (FAISS);
2. lexical: BM25 over the passages (SQLite FTS5);
3. best sentence: the highest cosine of the question and any one sentence of the passage.
   MiniLM was trained on short texts, so a one-sentence match is sharper than a 160-token
   passage vector. It re-ranks only the union of the first two candidate lists, with sentence
   vectors stored at ingest: no extra model call, no extra index. The same sentence rows then go
   to the answerer, so nothing is read twice.
4. feedback (pseudo-relevance feedback, as RM3 does for BM25): the most distinctive words of
   the first fused passages, searched with BM25 and fused at a lower weight. A question worded
   unlike its article ("the deputy minister informed the envoys") reaches the passage that uses
   the article's own words ("Park briefed his counterparts") through its neighbours. One more
   FTS query, no model call.
On the eval set this fusion beats dense-only and BM25-only (see README, `citeqa eval`).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from index.stores.base import ChunkRow, Index, SentenceRow
from index.text.terms import terms as content_terms
from service.pipeline.fusion import rrf
from service.schemas import Filters

MODES = ("hybrid", "dense", "bm25")


@dataclass
class Hit:
    row_id: int
    chunk: ChunkRow
    score: float
    rank: int
    dense: float = 0.0  # cosine of the query and the passage (0 when dense search did not return it)
    sentences: list[SentenceRow] = field(default_factory=list)
    # what the later stages need, read once here: no answerer goes back to the store for it
    text: str = ""  # the whole document's cleaned text (spans and citations are offsets into it)
    title: str = ""
    date: str | None = None
    pages: list[int] | None = None  # where each PDF page starts in `text`; None for unpaged formats

    @property
    def passage(self) -> str:
        return self.text[self.chunk.start : self.chunk.end]


def with_documents(hits: list[Hit], store) -> list[Hit]:
    """The hits with their documents' text, title, date and pages (one batched read each); a hit
    whose document was deleted since its search is dropped."""
    ids = {h.chunk.doc_id for h in hits}
    docs = store.documents_by_id(ids)
    texts = store.texts(ids)
    pages = store.page_starts(ids)
    out = []
    for h in hits:
        d, t = docs.get(h.chunk.doc_id), texts.get(h.chunk.doc_id)
        if d is not None and t is not None:
            h.text, h.title, h.date, h.pages = t, d.title, d.date, pages.get(h.chunk.doc_id)
            out.append(h)
    return out


def feedback_terms(sentences: Iterable[SentenceRow], exclude: set[str], df: Mapping[str, int], n: int,
                   k: int) -> list[str]:
    """Pure: the k terms of `sentences` with the highest tf × idf, question terms and numbers left out."""
    tf = Counter(t for s in sentences for t in s.terms if t not in exclude and not t.isdigit())
    weight = {t: c * math.log((n + 1) / (df.get(t, 0) + 0.5)) for t, c in tf.items()}
    return sorted(weight, key=lambda t: (-weight[t], t))[:k]


def best_sentence_ranking(sentences: Mapping[int, list[SentenceRow]], qvec: np.ndarray) -> list[int]:
    """Chunk ids by the highest cosine of any one of their sentences: one matrix product, a
    sentence that two overlapping chunks share scored once."""
    index: dict[tuple[str, int], int] = {}
    vectors: list[np.ndarray] = []
    members: dict[int, list[int]] = {}
    for cid, sents in ((c, ss) for c, ss in sentences.items() if ss):
        idx = []
        for s in sents:
            key = (s.doc_id, s.start)
            if key not in index:
                index[key] = len(vectors)
                vectors.append(s.vector)
            idx.append(index[key])
        members[cid] = idx
    if not members:
        return []
    sims = np.stack(vectors) @ qvec.reshape(-1)
    best = {cid: float(sims[idx].max()) for cid, idx in members.items()}
    return sorted(best, key=lambda c: -best[c])


class Lexical(NamedTuple):
    """A query's BM25 ranking and the chunk filter it was computed under."""

    allowed: np.ndarray | None
    ids: list[int]


class Retriever:
    def __init__(self, index: Index, rrf_k: int = 5, candidates: int = 30, mode: str = "hybrid",
                 feedback_passages: int = 3, feedback_terms: int = 10, feedback_weight: float = 0.5):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.index = index
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.mode = mode
        self.feedback_passages = feedback_passages
        self.feedback_terms = feedback_terms
        self.feedback_weight = feedback_weight

    def allowed(self, filters: Filters | None):
        """None (everything), or what the index's searches take as `allowed` (ids, an expression)."""
        if filters is None or (filters.doc_ids is None and filters.date_from is None and filters.date_to is None):
            return None
        return self.index.allowed(
            filters.doc_ids,
            filters.date_from.isoformat() if filters.date_from else None,
            filters.date_to.isoformat() if filters.date_to else None,
        )

    def lexical(self, query: str, top_k: int, filters: Filters | None = None) -> Lexical:
        """The BM25 ranking alone. It needs no query vector, so the engine runs it while the model
        embeds the question (ONNX Runtime releases the GIL; one model thread leaves a core free)."""
        allowed = self.allowed(filters)
        if self.mode not in ("hybrid", "bm25"):
            return Lexical(allowed, [])
        return Lexical(allowed, [i for i, _ in self.index.search_bm25(query, max(self.candidates, top_k), allowed)])

    def run(self, query: str, qvec: np.ndarray | None, top_k: int, filters: Filters | None = None,
            lexical: Lexical | None = None) -> list[Hit]:
        """The fused passages; `lexical`: this query's `lexical()` result when already computed."""
        if lexical is None:
            lexical = self.lexical(query, top_k, filters)
        allowed, lexical_ids = lexical
        n = max(self.candidates, top_k)
        use_dense = self.mode in ("hybrid", "dense") and qvec is not None
        dense = dict(self.index.search_dense(qvec, n, allowed)) if use_dense else {}
        rows = self.index.store.chunks(list(dense) + lexical_ids)
        sentences = self.index.store.sentences_of(rows.values())

        rankings = []
        if use_dense:
            rankings.append(list(dense))
            rankings.append(best_sentence_ranking(sentences, qvec))
        if lexical_ids:
            rankings.append(lexical_ids)
        weights = [1.0] * len(rankings)
        fused = rrf(rankings, k=self.rrf_k)
        if self.mode in ("hybrid", "bm25") and self.feedback_weight > 0 and self.feedback_passages and fused:
            extra = self._feedback(query, [c for c, _ in fused[: self.feedback_passages]], sentences, n, allowed)
            if extra:
                new = [c for c in extra if c not in rows]
                if new:
                    more = self.index.store.chunks(new)
                    rows.update(more)
                    sentences.update(self.index.store.sentences_of(more.values()))
                rankings.append(extra)
                weights.append(self.feedback_weight)
                fused = rrf(rankings, k=self.rrf_k, weights=weights)
        hits = [Hit(i, rows[i], s, r, dense.get(i, 0.0), sentences.get(i, []))
                for r, (i, s) in enumerate(fused[:top_k]) if i in rows]
        return with_documents(hits, self.index.store)

    def _feedback(self, query: str, top: list[int], sentences: dict[int, list[SentenceRow]], n: int,
                  allowed: np.ndarray | None) -> list[int]:
        sents = [s for c in top for s in sentences.get(c, [])]
        candidates = {t for s in sents for t in s.terms}
        df, n_sent = self.index.store.document_frequencies(candidates)
        expansion = feedback_terms(sents, set(content_terms(query)), df, n_sent, self.feedback_terms)
        return [i for i, _ in self.index.search_bm25(" ".join(expansion), n, allowed)] if expansion else []

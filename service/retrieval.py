"""Hybrid retrieval: dense (FAISS) and BM25 (FTS5) candidates fused by reciprocal rank."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.hybrid import HybridIndex
from index.store import ChunkRow
from service.fusion import rrf
from service.schemas import Filters

MODES = ("hybrid", "dense", "bm25")


@dataclass
class Hit:
    row_id: int
    chunk: ChunkRow
    score: float
    rank: int
    dense: float = 0.0  # cosine of the query and the passage (0 when dense search did not return it)


class Retriever:
    def __init__(self, index: HybridIndex, rrf_k: int = 60, candidates: int = 30, mode: str = "hybrid"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.index = index
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.mode = mode

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or (filters.doc_ids is None and filters.date_from is None and filters.date_to is None):
            return None
        return self.index.store.chunk_ids_for(
            filters.doc_ids,
            filters.date_from.isoformat() if filters.date_from else None,
            filters.date_to.isoformat() if filters.date_to else None,
        )

    def run(self, query: str, qvec: np.ndarray | None, top_k: int, filters: Filters | None = None) -> list[Hit]:
        allowed = self.allowed(filters)
        n = max(self.candidates, top_k)
        rankings = []
        dense: dict[int, float] = {}
        if self.mode in ("hybrid", "dense") and qvec is not None:
            found = self.index.search_dense(qvec, n, allowed)
            dense = dict(found)
            rankings.append([i for i, _ in found])
        if self.mode in ("hybrid", "bm25"):
            rankings.append([i for i, _ in self.index.search_bm25(query, n, allowed)])
        fused = rrf(rankings, k=self.rrf_k)[:top_k]
        rows = self.index.store.chunks(i for i, _ in fused)
        return [Hit(i, rows[i], s, r, dense.get(i, 0.0)) for r, (i, s) in enumerate(fused) if i in rows]

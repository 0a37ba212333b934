"""The index over a Milvus store: what index/stores/sqlite/index.py's HybridIndex is over SQLite + FAISS.

Milvus returns the candidates (dense: its vector index; lexical: its BM25 function over the words
citeqa stems); fusion, feedback and reranking stay citeqa's (service/pipeline/retrieval.py), so both
backends answer alike. Filters become Milvus expressions evaluated on the server.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.config import StoreConfig
from index.embedding.embedder import Embedder
from index.stores.manifest import check_compatible, expected_manifest, late_sentences_for
from index.stores.milvus.client import MilvusConn, in_list, literal
from index.stores.milvus.store import CHUNK_FIELDS, MilvusStore, chunk_row
from index.stores.milvus.write import query_words
from index.preparing import Preparer

log = logging.getLogger(__name__)
WRITE_BATCH = 64  # documents per store write: bounded memory and expressions, one flush each


@dataclass(frozen=True)
class MilvusFilter:
    """`allowed` for this backend: an expression over the chunk rows, not a list of ids."""

    expr: str


@dataclass(frozen=True)
class _DenseInfo:
    factory: str


class MilvusIndex(Preparer):
    def __init__(self, conn: MilvusConn, embedder: Embedder, refresh_s: float = 1.0, chunk_tokens: int = 160,
                 chunk_overlap: int = 1, for_writing: bool = False, rebuild: bool = False,
                 late_sentences: bool | None = None, index_dir: Path | None = None, pooled_chunks: bool = False):
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.pooled_chunks = pooled_chunks
        self.dir = Path(index_dir) if index_dir else Path(".")
        self.store = MilvusStore(conn, refresh_s=refresh_s)
        self.late_sentences = late_sentences_for(self.store.manifest(), late_sentences, rebuild)
        self.expected = expected_manifest(embedder.model_name, embedder.dim, chunk_tokens, chunk_overlap,
                                          self.sentence_vector_kind(), self.chunk_vector_kind())
        if not rebuild:
            check_compatible(self.store.manifest(), self.expected, for_writing=for_writing)
        self.dense = _DenseInfo(f"milvus:{conn.index_type}")  # what the server built, not the setting
        self._write_lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: StoreConfig, embedder: Embedder, **kw) -> "MilvusIndex":
        conn = MilvusConn.from_config(cfg.milvus, embedder.dim, create=kw.pop("create", False))
        return cls(conn, embedder, refresh_s=cfg.milvus.refresh_s, chunk_tokens=cfg.chunk_tokens,
                   chunk_overlap=cfg.chunk_overlap, late_sentences=cfg.late_sentences,
                   pooled_chunks=cfg.pooled_chunks, index_dir=cfg.index_dir, **kw)

    # ---- writes -----------------------------------------------------------------------------
    def apply(self, bundles: list, removals: list[str], wipe: bool = False) -> None:
        """Write in batches of WRITE_BATCH documents (each document atomic, not the whole call:
        Milvus has no multi-row transaction); `wipe`: every document not in `bundles` goes too."""
        with self._write_lock:
            removals = list(removals)
            if wipe:
                keep = {b.doc.doc_id for b in bundles} | set(removals)
                removals += [d.doc_id for d in self.store.documents() if d.doc_id not in keep]
            log.info("writing %d documents, removing %d (Milvus)", len(bundles), len(removals))
            for i in range(0, max(1, len(bundles)), WRITE_BATCH):
                self.store.write(bundles[i : i + WRITE_BATCH], removals if i == 0 else [], self.expected)

    def refresh(self) -> None:
        """Nothing to catch up: every read goes to the server (the generation re-read per refresh_s)."""

    # ---- reads ------------------------------------------------------------------------------
    def allowed(self, doc_ids: list[str] | None, date_from: str | None, date_to: str | None) -> MilvusFilter:
        clauses = []
        if doc_ids is not None:
            ids = [d for d in doc_ids if "\x00" not in d]  # no document has such an id
            clauses.append(in_list("doc_id", ids) if ids else "id < 0")
        if date_from:
            clauses.append(f'date != "" and date >= {literal(date_from)}')
        if date_to:
            clauses.append(f'date != "" and date <= {literal(date_to)}')
        return MilvusFilter(" and ".join(f"({c})" for c in clauses))

    def _search(self, data, field: str, metric: str, k: int, allowed: MilvusFilter | None) -> list[tuple[int, float]]:
        gen = self.store.generation()
        # a few more than asked: rows of a version not (or no longer) committed are dropped below
        hits = self.store.conn.search("chunks", data, field, k + 8, allowed.expr if allowed else "", ["id", *CHUNK_FIELDS],
                                      metric)
        current = self.store.versions(h["doc_id"] for h in hits)
        hits = [h for h in hits if current.get(h["doc_id"]) == int(h["ver"])][:k]
        self.store.remember("chunks", {int(h["id"]): chunk_row(h) for h in hits}, gen)
        return [(int(h["id"]), h["score"]) for h in hits]

    def search_dense(self, qvec: np.ndarray, k: int, allowed: MilvusFilter | None = None) -> list[tuple[int, float]]:
        return self._search(np.asarray(qvec, dtype=np.float32).ravel().tolist(), "vec", "IP", k, allowed)

    def search_bm25(self, query: str, k: int, allowed: MilvusFilter | None = None) -> list[tuple[int, float]]:
        words = query_words(query)
        if not words:
            return []
        return self._search(words, "sparse", "BM25", k, allowed)

    def close(self) -> None:
        self.store.close()


__all__ = ["MilvusFilter", "MilvusIndex"]

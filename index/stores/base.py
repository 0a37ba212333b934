"""What every store backend shares: the rows it returns, the two interfaces (`Store`, `Index`)
that retrieval, the answerers, ingest and the API use and nothing more, and the per-generation
read cache. index/stores/sqlite/ (SQLite + FAISS) and index/stores/milvus/ implement them;
index/stores/factory.py is the only code that knows which one a setting names.
"""
from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class DocumentRow:
    doc_id: str
    title: str
    date: str | None
    author: str | None
    source: str
    sha256: str
    n_chunks: int
    ingested_at: str


@dataclass
class ChunkRow:
    id: int
    chunk_id: str
    doc_id: str
    ord: int
    start: int
    end: int


@dataclass
class SentenceRow:
    doc_id: str
    start: int
    end: int
    vector: np.ndarray
    terms: frozenset[str]


@runtime_checkable
class Store(Protocol):
    """The rows of an index, read by document or chunk id (batched: one round trip per call)."""

    read_only: bool

    def generation(self) -> int: ...  # moves with every write, here or in another process
    def manifest(self) -> dict: ...
    def counts(self) -> dict[str, int]: ...
    def check_writable(self) -> None: ...  # raises StoreReadOnly / IndexUnavailable before any work
    def documents(self) -> list[DocumentRow]: ...
    def document(self, doc_id: str) -> DocumentRow | None: ...
    def documents_by_id(self, doc_ids: Iterable[str]) -> dict[str, DocumentRow]: ...
    def document_text(self, doc_id: str) -> str | None: ...
    def texts(self, doc_ids: Iterable[str]) -> dict[str, str]: ...
    def page_starts(self, doc_ids: Iterable[str]) -> dict[str, list[int]]: ...
    def chunks(self, row_ids: Iterable[int]) -> dict[int, ChunkRow]: ...
    def doc_sentences(self, doc_ids: Iterable[str]) -> dict[str, list[SentenceRow]]: ...
    def sentences_of(self, chunks: Iterable[ChunkRow]) -> dict[int, list[SentenceRow]]: ...
    def document_frequencies(self, terms: Iterable[str]) -> tuple[dict[str, int], int]: ...
    def close(self) -> None: ...


@runtime_checkable
class Index(Protocol):
    """A store with its two searches and its write path (what the engine, ingest and the API hold)."""

    store: Store

    def search_dense(self, qvec: np.ndarray, k: int, allowed: Any = None) -> list[tuple[int, float]]: ...
    def search_bm25(self, query: str, k: int, allowed: Any = None) -> list[tuple[int, float]]: ...
    def allowed(self, doc_ids: list[str] | None, date_from: str | None, date_to: str | None) -> Any: ...
    def prepare(self, docs: list, **kw) -> list: ...  # cleaned documents -> write bundles (the model runs here)
    def apply(self, bundles: list, removals: list[str], wipe: bool = False) -> None: ...  # atomic per document
    def refresh(self) -> None: ...
    def close(self) -> None: ...


class CachedReads:
    """Rows of recently asked-about documents (sentences with vectors and terms, texts, chunks)
    and term frequencies, read and decoded once: that was half of a question's non-model time.
    All of it is dropped when the store's generation moves (a write here or in another process),
    so a cached row is never older than the data. Subclasses define generation() and the fetches."""

    fetch_batch = 500  # SQLite's parameter limit

    def _init_cache(self, cache_docs: int) -> None:
        self._limits = {"sentences": cache_docs, "texts": cache_docs, "pages": cache_docs, "chunks": 64 * cache_docs,
                        "df": 64 * cache_docs, "docs": 64 * cache_docs}
        self._caches: dict[str, OrderedDict] = {kind: OrderedDict() for kind in self._limits}
        self._cache_gen = -1
        self._cache_lock = threading.Lock()

    def generation(self) -> int:
        raise NotImplementedError

    def _cached(self, kind: str, keys: list, fetch) -> dict:
        """{key: value} for the keys that exist, from the cache or from `fetch(missing keys)`."""
        if not keys:
            return {}
        gen = self.generation()
        cache = self._caches[kind]
        with self._cache_lock:
            if gen != self._cache_gen:
                for c in self._caches.values():
                    c.clear()
                self._cache_gen = gen
            found = {k: cache[k] for k in keys if k in cache}
            for k in found:
                cache.move_to_end(k)
        missing = [k for k in keys if k not in found]
        if missing:
            fetched = {}
            for i in range(0, len(missing), self.fetch_batch):
                fetched.update(fetch(missing[i : i + self.fetch_batch]))
            with self._cache_lock:
                if self._cache_gen == gen:  # read after the generation: never older than it
                    cache.update(fetched)
                    while len(cache) > self._limits[kind]:
                        cache.popitem(last=False)
            found.update(fetched)
        return found

    def remember(self, kind: str, rows: dict, gen: int) -> None:
        """Rows read along with something else (a search's output fields), kept if still current."""
        with self._cache_lock:
            if self._cache_gen == gen:
                cache = self._caches[kind]
                cache.update(rows)
                while len(cache) > self._limits[kind]:
                    cache.popitem(last=False)

    def sentences_of(self, chunks: Iterable[ChunkRow]) -> dict[int, list[SentenceRow]]:
        """The sentences (with vectors and terms) of each chunk, by chunk row id."""
        chunks = list(chunks)
        rows = self.doc_sentences({c.doc_id for c in chunks})
        starts = {d: [r.start for r in doc_rows] for d, doc_rows in rows.items()}
        out: dict[int, list[SentenceRow]] = {}
        for c in chunks:
            doc_rows = rows.get(c.doc_id, [])
            doc_starts = starts.get(c.doc_id, [])
            i = bisect.bisect_left(doc_starts, c.start)
            j = bisect.bisect_right(doc_starts, c.end)
            out[c.id] = [r for r in doc_rows[i:j] if r.end <= c.end]
        return out

    def doc_sentences(self, doc_ids: Iterable[str]) -> dict[str, list[SentenceRow]]:
        raise NotImplementedError


__all__ = ["CachedReads", "ChunkRow", "DocumentRow", "Index", "SentenceRow", "Store"]

"""SQLite store: documents, chunks, sentences and their vectors, BM25 (FTS5), manifest.

SQLite is the source of truth and the unit of atomicity: one ingest (or one API write) is one
transaction, so a crash at any moment leaves the previous state. The FAISS file is a cache of the
chunk vectors kept here, tagged with the store's generation, and rebuilt from them when missing or
stale. FTS5 gives an incremental BM25 that commits in the same transaction as the documents; a
separate in-memory BM25 (bm25s) would need its own file kept in step by hand.
"""
from __future__ import annotations

import errno
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from index.stores.sqlite import integrity
from index.stores.sqlite.access import (IndexCorrupt, IndexReadOnly, IndexUnavailable, StoreFull, StoreReadOnly, connect,
                                 open_error, unwritable_reason)
from index.stores.base import CachedReads, ChunkRow, DocumentRow, SentenceRow
from index.text.terms import fts_query

__all__ = ["ChunkRow", "DocumentRow", "SentenceRow", "IndexCorrupt", "IndexReadOnly", "IndexUnavailable", "Store", "StoreFull", "StoreReadOnly"]

PAGES_TABLE = """CREATE TABLE IF NOT EXISTS doc_pages (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE, starts TEXT NOT NULL
)"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, author TEXT, source TEXT NOT NULL,
    sha256 TEXT NOT NULL, text TEXT NOT NULL, n_chunks INTEGER NOT NULL, ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, n_tokens INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ord);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, vector BLOB NOT NULL,
    terms TEXT NOT NULL
);
-- in how many sentences each content term occurs: the IDF of the answerer's lexical overlap
CREATE TABLE IF NOT EXISTS term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentences_doc ON sentences(doc_id, start);
CREATE TABLE IF NOT EXISTS doc_pages (
    doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id) ON DELETE CASCADE, starts TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, body, tokenize='porter unicode61');
"""

log = logging.getLogger(__name__)


class Store(CachedReads):
    """One SQLite file. Connections are per thread; writes are serialized by SQLite itself."""

    def __init__(self, path: Path, create: bool = False, cache_docs: int = 1024,
                 quick_check_bytes: int = 512_000_000):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no index at {self.path.parent} (run `citeqa ingest` first)")
        self._local = threading.local()
        # Rows of recently asked-about documents (sentences with vectors and terms, texts, chunks)
        # and term frequencies, read and decoded once: that was half of a question's non-model
        # time. All of it is dropped when the store's generation moves (a write here or in another
        # process), so a cached row is never older than the data.
        self._init_cache(cache_docs)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # A store this user cannot write is served read-only (its writes refused), not called corrupt.
        self.read_only_reason = unwritable_reason(self.path) if self.path.exists() else None
        self.read_only = self.read_only_reason is not None
        if self.read_only:
            log.warning("the index at %s is read-only (%s): serving it, writes are refused", self.path.parent,
                        self.read_only_reason)
        try:
            conn = self.conn
            if create:
                conn.executescript(SCHEMA)
            elif not self.read_only:  # a store made before PDFs had pages gains the table
                conn.execute(PAGES_TABLE)
            conn.execute("SELECT count(*) FROM documents").fetchone()
            conn.execute("SELECT count(*) FROM chunks_fts").fetchone()
        except sqlite3.DatabaseError as exc:
            raise open_error(exc, self.path.parent, self.read_only_reason) from exc
        self._quick_check(quick_check_bytes)

    def _quick_check(self, max_bytes: int) -> None:
        """A damaged page must not be found by the first question (every ask a 500 while /readyz
        says 200): SQLite's quick_check reads every page, so it runs up to a size (~1 s per GB)."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size > max_bytes:
            log.info("the store is %.0f MB: quick_check skipped at open (run `citeqa check`)", size / 1e6)
            return
        problem = integrity.quick_check(self.conn)
        if problem:
            raise IndexCorrupt(f"the index at {self.path.parent} is corrupt (SQLite: {problem}); run "
                               "`citeqa check --repair` (keeps every document still readable)")

    def check_writable(self) -> None:
        if self.read_only:
            raise StoreReadOnly(errno.EROFS, f"the index at {self.path.parent} is read-only "
                                             f"({self.read_only_reason}); nothing was written")

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.read_only)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def manifest(self) -> dict | None:
        raw = self.get_meta("manifest")
        return json.loads(raw) if raw else None

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def state(self) -> tuple[int, str]:
        """(generation, digest of the chunk vectors), read together. A store written before the
        digest existed has it computed here (and kept with its next write)."""
        rows = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN ('generation', ?)",
                                      (integrity.DIGEST_KEY,)).fetchall())
        digest = rows.get(integrity.DIGEST_KEY) or integrity.as_text(integrity.compute_digest(self.conn))
        return int(rows.get("generation") or 0), digest

    # ---- reads ----------------------------------------------------------------------------
    def documents(self) -> list[DocumentRow]:
        rows = self.conn.execute(
            "SELECT doc_id, title, date, author, source, sha256, n_chunks, ingested_at FROM documents ORDER BY doc_id"
        ).fetchall()
        return [DocumentRow(*r) for r in rows]

    def document(self, doc_id: str) -> DocumentRow | None:
        r = self.conn.execute(
            "SELECT doc_id, title, date, author, source, sha256, n_chunks, ingested_at FROM documents WHERE doc_id=?",
            (doc_id,),
        ).fetchone()
        return DocumentRow(*r) if r else None

    def documents_by_id(self, doc_ids: Iterable[str]) -> dict[str, DocumentRow]:
        ids = list(set(doc_ids))
        if not ids:
            return {}
        q = (f"SELECT doc_id, title, date, author, source, sha256, n_chunks, ingested_at FROM documents "
             f"WHERE doc_id IN ({','.join('?' * len(ids))})")
        return {r[0]: DocumentRow(*r) for r in self.conn.execute(q, ids)}

    def document_text(self, doc_id: str) -> str | None:
        r = self.conn.execute("SELECT text FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return r[0] if r else None

    def texts(self, doc_ids: Iterable[str]) -> dict[str, str]:
        def fetch(ids: list[str]) -> dict[str, str]:
            q = f"SELECT doc_id, text FROM documents WHERE doc_id IN ({','.join('?' * len(ids))})"
            return dict(self.conn.execute(q, ids).fetchall())

        return self._cached("texts", list(dict.fromkeys(doc_ids)), fetch)

    def page_starts(self, doc_ids: Iterable[str]) -> dict[str, list[int]]:
        """{doc_id: offsets where its pages start} for the paged documents among `doc_ids`."""
        def fetch(ids: list[str]) -> dict[str, list[int] | None]:
            q = f"SELECT doc_id, starts FROM doc_pages WHERE doc_id IN ({','.join('?' * len(ids))})"
            try:
                found = {d: json.loads(s) for d, s in self.conn.execute(q, ids)}
            except sqlite3.OperationalError:  # a read-only store from before the table existed
                found = {}
            return {d: found.get(d) for d in ids}

        return {d: v for d, v in self._cached("pages", list(dict.fromkeys(doc_ids)), fetch).items() if v}

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        def fetch(part: list[int]) -> dict[int, ChunkRow]:
            q = f"SELECT id, chunk_id, doc_id, ord, start, end FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            return {r[0]: ChunkRow(*r) for r in self.conn.execute(q, part)}

        return self._cached("chunks", list(dict.fromkeys(int(i) for i in ids)), fetch)

    def chunk_ids_for(self, doc_ids: list[str] | None, date_from: str | None, date_to: str | None) -> np.ndarray:
        """Row ids of the chunks whose document passes the filters."""
        where, args = _doc_filter(doc_ids, date_from, date_to)
        rows = self.conn.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE {where}", args
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def doc_sentences(self, doc_ids: Iterable[str]) -> dict[str, list[SentenceRow]]:
        """All sentence rows of each document, in text order."""
        def fetch(ids: list[str]) -> dict[str, list[SentenceRow]]:
            out: dict[str, list[SentenceRow]] = {d: [] for d in ids}
            for d, st, en, blob, t in self.conn.execute(
                    f"SELECT doc_id, start, end, vector, terms FROM sentences WHERE doc_id IN "
                    f"({','.join('?' * len(ids))}) ORDER BY doc_id, start", ids):
                out[d].append(SentenceRow(d, st, en, np.frombuffer(blob, dtype=np.float32), frozenset(t.split())))
            return out

        return self._cached("sentences", list(dict.fromkeys(doc_ids)), fetch)

    def document_frequencies(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({term: number of sentences containing it}, number of sentences)."""
        n = int(self.get_meta("n_sentences") or 0)

        def fetch(ts: list[str]) -> dict[str, int]:
            q = f"SELECT term, df FROM term_df WHERE term IN ({','.join('?' * len(ts))})"
            return dict.fromkeys(ts, 0) | dict(self.conn.execute(q, ts).fetchall())  # absent terms: 0

        df = self._cached("df", list(set(terms)), fetch)
        return {t: v for t, v in df.items() if v}, n

    def bm25(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk row id, score) by BM25; higher is better."""
        match = fts_query(query)
        if match is None:
            return []
        sql = "SELECT rowid, -bm25(chunks_fts, 0.5, 1.0) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
        args: list = [match]
        if allowed is not None:
            if len(allowed) == 0:
                return []
            sql += f" AND rowid IN ({','.join(str(int(i)) for i in allowed)})"
        sql += " ORDER BY bm25(chunks_fts, 0.5, 1.0) LIMIT ?"
        args.append(int(k))
        return [(int(r), float(s)) for r, s in self.conn.execute(sql, args)]

    def iter_vectors(self, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            yield ids, vecs
            last = int(ids[-1])

    def counts(self) -> dict[str, int]:
        c = self.conn
        return {
            "documents": c.execute("SELECT count(*) FROM documents").fetchone()[0],
            "chunks": c.execute("SELECT count(*) FROM chunks").fetchone()[0],
            "sentences": c.execute("SELECT count(*) FROM sentences").fetchone()[0],
        }

    # ---- the one write path ---------------------------------------------------------------
    def write(self, bundles: list, removals: list[str], manifest: dict, wipe: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """In one transaction: drop `removals` and the old versions of `bundles`, insert `bundles`,
        bump the generation. Returns (removed chunk row ids, added chunk row ids, added vectors)."""
        from index.stores.sqlite.write import write

        return write(self, bundles, removals, manifest, wipe)


def _doc_filter(doc_ids: list[str] | None, date_from: str | None, date_to: str | None) -> tuple[str, list]:
    clauses, args = ["1=1"], []
    if doc_ids is not None:
        clauses.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})" if doc_ids else "0=1")
        args.extend(doc_ids)
    if date_from:
        clauses.append("d.date IS NOT NULL AND d.date >= ?")
        args.append(date_from)
    if date_to:
        clauses.append("d.date IS NOT NULL AND d.date <= ?")
        args.append(date_to)
    return " AND ".join(clauses), args

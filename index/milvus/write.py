"""The Milvus store's one write path: each document added, replaced or removed on its own, atomically.

A document is written as rows of a fresh version, then committed by upserting its document row
(one row: atomic in Milvus), then its previous version's rows are deleted. A removal deletes the
document row first. A writer killed at any point leaves either the old document or the new one;
rows of a version never committed are read by nobody and deleted by the next write of that
document. The sentence document frequencies (a statistic for IDF) are updated after the commits:
a kill between the two leaves them off by one document's terms until that document is written again.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter

from index.milvus.client import BLANK, MAX_ROWS, TEXT_PART, bucket, literal, new_version, row_id
from index.terms import terms as content_terms

log = logging.getLogger(__name__)

N_KEY = "#"  # the counter of sentences; no term contains "#"
WRITER = secrets.token_hex(8)  # this process's df counters
_counters: dict[tuple[str, str], dict[str, int]] = {}  # (uri, collection) -> this writer's counters
_counters_lock = threading.Lock()


def match_words(title: str, match_text: str) -> str:
    """What Milvus' BM25 indexes for a chunk: citeqa's stemmed content words of its title and text."""
    return " ".join(content_terms(f"{title}\n{match_text}"))[:60_000]


def query_words(query: str) -> str:
    return " ".join(content_terms(query))


def write(store, bundles: list, removals: list[str], manifest: dict, wipe: bool = False) -> None:
    conn = store.conn
    keep = {b.doc.doc_id for b in bundles}
    removals = list(dict.fromkeys(removals))
    if wipe:  # every document not written now goes, one by one
        removals += [d.doc_id for d in store.documents() if d.doc_id not in keep and d.doc_id not in removals]
    df = Counter()
    for doc_id in removals:
        old = _current(conn, doc_id)
        if old is None:
            continue
        conn.delete("documents", f"doc_id == {literal(doc_id)}")  # the commit of a removal
        _forget(conn, doc_id, old, df, keep_ver=None)
    for b in bundles:
        old = _current(conn, b.doc.doc_id)
        ver = new_version()
        _insert_rows(conn, b, ver, df)
        d = b.doc
        conn.upsert("documents", [{
            "doc_id": d.doc_id, "ver": ver, "bucket": bucket(d.doc_id), "title": d.title, "date": d.date or "", "author": d.author or "",
            "source": d.source, "sha256": d.sha256, "pages": json.dumps(d.page_starts) if d.page_starts else "",
            "ingested_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "n_chunks": len(b.chunks),
            "n_sentences": len(b.sentences), "n_parts": _n_parts(d.text), "_v": BLANK,
        }])  # the commit
        _forget(conn, d.doc_id, old, df, keep_ver=ver)
    _add_counts(conn, df)
    generation = secrets.randbits(62)
    counts = store.counts()
    conn.upsert("meta", [
        {"key": "generation", "value": str(generation), "_v": BLANK},
        {"key": "manifest", "value": json.dumps({**manifest, "generation": generation, "counts": counts}), "_v": BLANK},
    ])
    conn.flush()
    store.saw(generation)


def _current(conn, doc_id: str) -> tuple[int, int] | None:
    """(version, number of sentences) of the committed document, if any."""
    rows = conn.query("documents", f"doc_id == {literal(doc_id)}", ["ver", "n_sentences"])
    return (int(rows[0]["ver"]), int(rows[0]["n_sentences"])) if rows else None


def _n_parts(text: str) -> int:
    return max(1, -(-len(text) // TEXT_PART))


def _insert_rows(conn, b, ver: int, df: Counter) -> None:
    d = b.doc
    conn.insert("texts", [{"id": row_id(ver, i), "ver": ver, "doc_id": d.doc_id, "part": i,
                           "text": d.text[i * TEXT_PART : (i + 1) * TEXT_PART], "_v": BLANK}
                          for i in range(_n_parts(d.text))])
    sents = []
    for i, (s, v, match_text) in enumerate(zip(b.sentences, b.sentence_vectors, b.sentence_texts)):
        sent_terms = sorted({t[:512] for t in content_terms(match_text)})
        df.update(sent_terms)
        sents.append({"id": row_id(ver, i), "ver": ver, "doc_id": d.doc_id, "ord": i, "start": s.start, "end": s.end,
                      "terms": " ".join(sent_terms)[:60_000], "vec": v.astype("float32").tolist()})
    df[N_KEY] += len(sents)
    conn.insert("sentences", sents)
    conn.insert("chunks", [{
        "id": row_id(ver, ch.ord), "ver": ver, "doc_id": d.doc_id, "chunk_id": ch.chunk_id, "date": d.date or "",
        "ord": ch.ord, "start": ch.start, "end": ch.end, "n_tokens": ch.n_tokens,
        "words": match_words(d.title, match_text), "vec": vec.astype("float32").tolist(),
    } for ch, vec, match_text in zip(b.chunks, b.chunk_vectors, b.chunk_texts)])


def _forget(conn, doc_id: str, old: tuple[int, int] | None, df: Counter, keep_ver: int | None) -> None:
    """Delete the rows of `doc_id` other than `keep_ver`'s (the old version, and any left by a
    writer killed before its commit), and take the old version's terms out of the counts."""
    if old is not None and old[0] != keep_ver:
        rows = conn.ranged("sentences", f"ver == {old[0]}", ["terms"], "ord", 0, old[1], MAX_ROWS // 2)
        for r in rows:
            df.subtract(r["terms"].split())
        df[N_KEY] -= len(rows)
    expr = f"doc_id == {literal(doc_id)}" + (f" and ver != {keep_ver}" if keep_ver is not None else "")
    for kind in ("chunks", "sentences", "texts"):
        conn.delete(kind, expr)


def _add_counts(conn, df: Counter) -> None:
    """Add `df` to this writer's counters (only this process writes them, so it knows their values)."""
    changes = {t: n for t, n in df.items() if n}
    if not changes:
        return
    with _counters_lock:
        mine = _counters.setdefault((conn.uri, conn.names["terms"]), {})
        rows = []
        for t, n in changes.items():
            mine[t] = mine.get(t, 0) + n
            rows.append({"key": f"{WRITER} {t}", "term": t, "df": mine[t], "_v": BLANK})
        conn.upsert("terms", rows)


__all__ = ["match_words", "query_words", "write"]

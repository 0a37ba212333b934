"""The Milvus store's one write path: each document added, replaced or removed on its own, atomically.

A document is written as rows of a fresh version, then committed by upserting its document row
(one row: atomic in Milvus), then its previous version's rows are deleted; a batch of documents
does each step for all of them at once (a round trip per step, not per document). A removal deletes the
document row first. A writer killed at any point leaves either the old document or the new one;
rows of a version never committed are read by nobody and deleted by the next write of that
document. The sentence document frequencies (a statistic for IDF) are updated after the commits:
a kill between the two leaves them off by one document's terms until that document is written again.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections import Counter
from functools import lru_cache

import numpy as np

from index.stores.milvus.client import BLANK, TEXT_PART, bucket, in_list, key_of, new_version, row_id
from index.text.terms import is_content_word, terms as content_terms

log = logging.getLogger(__name__)

N_KEY = "#"  # the counter of sentences; no term contains "#"
WRITER = secrets.token_hex(8)  # this process's df counters
_counters: dict[tuple[str, str], dict[str, int]] = {}  # (uri, collection) -> this writer's counters
_counters_lock = threading.Lock()


def match_words(title: str, match_text: str) -> str:
    """What Milvus' BM25 indexes for a chunk: the words FTS5 indexes in the embedded store (its
    unicode61 tokens, case and accents folded, Porter-stemmed, stop words kept: they count in a
    chunk's length), so both stores rank alike (Milvus' analyzers have no Porter stemmer)."""
    return " ".join(_porter().stemWords(_tokens(f"{title}\n{match_text}")))[:60_000]


def query_words(query: str) -> str:
    """A question's words as the embedded store's FTS5 query takes them (index/terms.fts_query)."""
    return " ".join(_porter().stemWords([t for t in _tokens(query) if is_content_word(t)]))


_WORD = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))


@lru_cache(maxsize=1)
def _porter():
    import Stemmer

    return Stemmer.Stemmer("porter")


def write(store, bundles: list, removals: list[str], manifest: dict) -> None:
    """Remove `removals` and write `bundles` (each document atomically), then move the generation."""
    conn = store.conn
    keep = {b.doc.doc_id for b in bundles}
    removals = [d for d in dict.fromkeys(removals) if d not in keep]  # a rewritten document is not removed
    df = Counter()
    # removals: deleting the document rows is their commit
    gone = _current(conn, removals)
    if gone:
        conn.delete("documents", in_list("doc_id", gone))
    # writes: every row of the new versions, then the document rows (each upserted row commits its document)
    old = _current(conn, [b.doc.doc_id for b in bundles])
    kept = {b.doc.doc_id: new_version() for b in bundles}
    rows = {"texts": [], "sentences": [], "chunks": []}
    for b in bundles:
        _rows(b, kept[b.doc.doc_id], df, rows)
    for kind, part in rows.items():
        conn.insert(kind, part)
    conn.upsert("documents", [_document_row(b, kept[b.doc.doc_id]) for b in bundles])
    for prev in [*gone.values(), *old.values()]:
        _uncount(conn, prev, df)
    _delete_rows(conn, list(gone), kept)
    _add_counts(conn, df)
    generation = secrets.randbits(62)
    counts = store.counts()
    conn.upsert("meta", [
        {"key": "generation", "value": str(generation), "_v": BLANK},
        {"key": "manifest", "value": json.dumps({**manifest, "generation": generation, "counts": counts}), "_v": BLANK},
    ])  # no flush: acknowledged rows are durable and seen (Strong) without one, and a cluster rate-limits it
    store.saw(generation)


def _current(conn, doc_ids: list[str]) -> dict[str, tuple[int, int]]:
    """{doc_id: (version, number of sentences)} of the committed documents among `doc_ids`."""
    rows = conn.query_many("documents", "doc_id", list(dict.fromkeys(doc_ids)), ["doc_id", "ver", "n_sentences"])
    return {r["doc_id"]: (int(r["ver"]), int(r["n_sentences"])) for r in rows}


def _document_row(b, ver: int) -> dict:
    d = b.doc
    return {"key": key_of(d.doc_id), "doc_id": d.doc_id, "ver": ver, "bucket": bucket(d.doc_id), "title": d.title, "date": d.date or "",
            "author": d.author or "", "source": d.source, "sha256": d.sha256,
            "pages": json.dumps(d.page_starts) if d.page_starts else "",
            "ingested_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "n_chunks": len(b.chunks),
            "n_sentences": len(b.sentences), "n_parts": _n_parts(d.text), "_v": BLANK}


def _n_parts(text: str) -> int:
    return max(1, -(-len(text) // TEXT_PART))


def _rows(b, ver: int, df: Counter, out: dict[str, list]) -> None:
    """The rows of one document version, added to `out` by collection; its terms counted in `df`."""
    d = b.doc
    bk = bucket(d.doc_id)
    out["texts"].extend([{"id": row_id(ver, i), "ver": ver, "doc_id": d.doc_id, "bucket": bk, "part": i,
                           "text": d.text[i * TEXT_PART : (i + 1) * TEXT_PART], "_v": BLANK}
                          for i in range(_n_parts(d.text))])
    sents = []
    for i, (s, v, match_text) in enumerate(zip(b.sentences, b.sentence_vectors, b.sentence_texts)):
        sent_terms = sorted({t[:512] for t in content_terms(match_text)})
        df.update(sent_terms)
        sents.append({"id": row_id(ver, i), "ver": ver, "doc_id": d.doc_id, "bucket": bk, "ord": i, "start": s.start, "end": s.end,
                      "terms": " ".join(sent_terms)[:60_000], "vec": np.asarray(v, dtype=np.float32)})
    df[N_KEY] += len(sents)
    out["sentences"].extend(sents)
    out["chunks"].extend([{
        "id": row_id(ver, ch.ord), "ver": ver, "doc_id": d.doc_id, "bucket": bk, "chunk_id": ch.chunk_id, "date": d.date or "",
        "ord": ch.ord, "start": ch.start, "end": ch.end, "n_tokens": ch.n_tokens,
        "words": match_words(d.title, match_text), "vec": np.asarray(vec, dtype=np.float32),
    } for ch, vec, match_text in zip(b.chunks, b.chunk_vectors, b.chunk_texts)])


def _uncount(conn, old: tuple[int, int], df: Counter) -> None:
    """Take the terms of a document's old version out of the counts."""
    rows = conn.rows_of("sentences", {old[0]: old[1]}, ["terms"])
    for r in rows:
        df.subtract(r["terms"].split())
    df[N_KEY] -= len(rows)


def _delete_rows(conn, gone: list[str], kept: dict[str, int]) -> None:
    """Delete every row of the `gone` documents, and the rows of the `kept` ones other than their new
    version's (the old version, and any left by a writer killed before its commit): one delete per
    collection and batch, not per document (each delete is a round trip and a scan of the expression)."""
    for i in range(0, len(gone), 256):
        for kind in ("chunks", "sentences", "texts"):
            conn.delete(kind, in_list("doc_id", gone[i : i + 256]))
    items = list(kept.items())
    for i in range(0, len(items), 256):
        part = dict(items[i : i + 256])
        for kind in ("chunks", "sentences", "texts"):
            conn.delete(kind, f"{in_list('doc_id', part)} and {_not_in('ver', part.values())}")


def _not_in(field: str, values) -> str:
    return f"{field} not in [{', '.join(str(int(v)) for v in values)}]"


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
            rows.append({"key": key_of(f"{WRITER} {t}"), "term": t, "df": mine[t], "_v": BLANK})
        conn.upsert("terms", rows)


__all__ = ["match_words", "query_words", "write"]

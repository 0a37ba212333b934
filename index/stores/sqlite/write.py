"""The store's one write path (split from store.py by size): one transaction per ingest or API write."""
from __future__ import annotations

import errno
import json
from typing import TYPE_CHECKING

import numpy as np

from index.stores.sqlite import integrity
from index.stores.sqlite.access import StoreFull, is_disk_full
from index.text.terms import terms as content_terms

if TYPE_CHECKING:
    from index.stores.sqlite.store import Store


def _blob(vec: np.ndarray) -> bytes:
    return np.ascontiguousarray(vec, dtype=np.float32).tobytes()


def write(store: "Store", bundles: list, removals: list[str], manifest: dict, wipe: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In one transaction: drop `removals` and the old versions of `bundles`, insert `bundles`,
    bump the generation. Returns (removed chunk row ids, added chunk row ids, added vectors)."""
    store.check_writable()
    conn = store.conn
    removed: list[int] = []
    added_ids: list[int] = []
    added_vecs: list[np.ndarray] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        df_delta: dict[str, int] = {}
        old = store.get_meta(integrity.DIGEST_KEY)
        digest = 0 if wipe else int(old, 16) if old else integrity.compute_digest(conn)
        if wipe:
            removed = [r[0] for r in conn.execute("SELECT id FROM chunks")]
            conn.execute("DELETE FROM term_df")
            conn.execute("DELETE FROM chunks_fts")
            conn.execute("DELETE FROM sentences")
            conn.execute("DELETE FROM chunks")
            conn.execute("DELETE FROM documents")
        for doc_id in list(removals) + [b.doc.doc_id for b in bundles]:
            rows = conn.execute("SELECT id, vector FROM chunks WHERE doc_id=?", (doc_id,)).fetchall()
            digest ^= integrity.fold(rows)
            ids = [r[0] for r in rows]
            removed.extend(ids)
            for (t,) in conn.execute("SELECT terms FROM sentences WHERE doc_id=?", (doc_id,)):
                for term in t.split():
                    df_delta[term] = df_delta.get(term, 0) - 1
            conn.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(i,) for i in ids])
            conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))  # cascades
        for b in bundles:
            d = b.doc
            conn.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,datetime('now'))",
                (d.doc_id, d.title, d.date, d.author, d.source, d.sha256, d.text, len(b.chunks)),
            )
            if d.page_starts:
                conn.execute("INSERT INTO doc_pages VALUES (?, ?)", (d.doc_id, json.dumps(d.page_starts)))
            for ch, vec, match_text in zip(b.chunks, b.chunk_vectors, b.chunk_texts):
                blob = _blob(vec)
                cur = conn.execute(
                    "INSERT INTO chunks (chunk_id, doc_id, ord, start, end, n_tokens, vector) VALUES (?,?,?,?,?,?,?)",
                    (ch.chunk_id, d.doc_id, ch.ord, ch.start, ch.end, ch.n_tokens, blob),
                )
                digest ^= integrity.row_hash(cur.lastrowid, blob)
                conn.execute(
                    "INSERT INTO chunks_fts (rowid, title, body) VALUES (?,?,?)", (cur.lastrowid, d.title, match_text)
                )
                added_ids.append(cur.lastrowid)
                added_vecs.append(vec)
            rows = []
            for i, (s, v, match_text) in enumerate(zip(b.sentences, b.sentence_vectors, b.sentence_texts)):
                sent_terms = sorted(set(content_terms(match_text)))
                for term in sent_terms:
                    df_delta[term] = df_delta.get(term, 0) + 1
                rows.append((d.doc_id, i, s.start, s.end, _blob(v), " ".join(sent_terms)))
            conn.executemany(
                "INSERT INTO sentences (doc_id, ord, start, end, vector, terms) VALUES (?,?,?,?,?,?)", rows
            )
        conn.executemany(
            "INSERT INTO term_df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
            [(t, n) for t, n in df_delta.items() if n],
        )
        conn.execute("DELETE FROM term_df WHERE df <= 0")
        generation = int(store.get_meta("generation") or 0) + 1
        counts = store.counts()
        manifest = {**manifest, "generation": generation, "counts": counts}
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?,?)",
            [("generation", str(generation)), ("manifest", json.dumps(manifest)),
             ("n_sentences", str(counts["sentences"])), (integrity.DIGEST_KEY, integrity.as_text(digest))],
        )
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:  # a failed COMMIT (disk full) may have rolled back already
            conn.execute("ROLLBACK")
        if is_disk_full(exc):
            raise StoreFull(errno.ENOSPC, f"no space left on the disk of the index at {store.path.parent}; "
                                          "nothing was written") from exc
        raise
    dim = len(added_vecs[0]) if added_vecs else 0
    vecs = np.stack(added_vecs).astype(np.float32) if added_vecs else np.zeros((0, dim), np.float32)
    return np.array(removed, dtype=np.int64), np.array(added_ids, dtype=np.int64), vecs

"""The Milvus store's reads: the same methods and rows as index/stores/sqlite/store.py, from Milvus collections.

Only rows of a document's current version are returned (client.py says why). Reads are cached per
generation like the embedded store's; the generation itself is re-read at most every `refresh_s`
seconds (each read is a round trip), so another replica's write shows within that time, and this
process's own writes at once.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable

import numpy as np

from index.stores.milvus.client import BUCKETS, MilvusConn, literal
from index.stores.base import CachedReads, ChunkRow, DocumentRow, SentenceRow

DOC_FIELDS = ["doc_id", "ver", "title", "date", "author", "source", "sha256", "n_chunks", "n_sentences", "n_parts",
              "ingested_at", "pages"]
CHUNK_FIELDS = ["ver", "chunk_id", "doc_id", "ord", "start", "end"]


def doc_row(r: dict) -> DocumentRow:
    return DocumentRow(r["doc_id"], r["title"], r["date"] or None, r["author"] or None, r["source"], r["sha256"],
                       int(r["n_chunks"]), r["ingested_at"])


def chunk_row(r: dict) -> ChunkRow:
    return ChunkRow(int(r["id"]), r["chunk_id"], r["doc_id"], int(r["ord"]), int(r["start"]), int(r["end"]))


class MilvusStore(CachedReads):
    read_only = False
    read_only_reason = None
    fetch_batch = 256

    def __init__(self, conn: MilvusConn, cache_docs: int = 1024, refresh_s: float = 1.0):
        self.conn = conn
        self.path = conn.uri
        self.refresh_s = refresh_s
        self._init_cache(cache_docs)
        self._gen_lock = threading.Lock()
        self._gen = (0, -1.0)  # (generation, monotonic time it was read)

    def check_writable(self) -> None:
        return None

    def close(self) -> None:
        self.conn.close()

    # ---- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self.conn.query("meta", f"key == {literal(key)}", ["value"])
        return rows[0]["value"] if rows else None

    def manifest(self) -> dict | None:
        raw = self.get_meta("manifest")
        return json.loads(raw) if raw else None

    def generation(self) -> int:
        gen, at = self._gen
        if time.monotonic() - at < self.refresh_s:
            return gen
        with self._gen_lock:
            gen = int(self.get_meta("generation") or 0)
            self._gen = (gen, time.monotonic())
        return gen

    def saw(self, generation: int) -> None:
        """This process wrote `generation`: its own reads see it now, not after refresh_s."""
        with self._gen_lock:
            self._gen = (generation, time.monotonic())

    # ---- documents --------------------------------------------------------------------------
    def _doc_records(self, doc_ids: Iterable[str]) -> dict[str, dict]:
        """The current document rows (with their version) of the ids that exist."""
        def fetch(ids: list[str]) -> dict[str, dict | None]:
            found = {r["doc_id"]: r for r in self.conn.query_many("documents", "doc_id", ids, DOC_FIELDS)}
            return {d: found.get(d) for d in ids}

        return {d: r for d, r in self._cached("docs", list(dict.fromkeys(doc_ids)), fetch).items() if r}

    def versions(self, doc_ids: Iterable[str]) -> dict[str, int]:
        return {d: int(r["ver"]) for d, r in self._doc_records(doc_ids).items()}

    def documents(self) -> list[DocumentRow]:
        rows = [doc_row(r) for r in self.conn.ranged("documents", 'doc_id != ""', DOC_FIELDS, "bucket", 0, BUCKETS)]
        return sorted(rows, key=lambda d: d.doc_id)

    def document(self, doc_id: str) -> DocumentRow | None:
        return self.documents_by_id([doc_id]).get(doc_id)

    def documents_by_id(self, doc_ids: Iterable[str]) -> dict[str, DocumentRow]:
        return {d: doc_row(r) for d, r in self._doc_records(doc_ids).items()}

    def document_text(self, doc_id: str) -> str | None:
        return self.texts([doc_id]).get(doc_id)

    def _version_rows(self, kind: str, doc_ids: list[str], n_field: str, fields: list[str]) -> dict[str, list[dict]]:
        """{doc_id: the `kind` rows of its current version} for the documents that exist."""
        recs = self._doc_records(doc_ids)
        by_ver = {int(r["ver"]): d for d, r in recs.items()}
        out: dict[str, list[dict]] = {d: [] for d in recs}
        for r in self.conn.rows_of(kind, {int(r["ver"]): int(r[n_field]) for r in recs.values()}, ["ver", *fields]):
            out[by_ver[int(r["ver"])]].append(r)
        return out

    def texts(self, doc_ids: Iterable[str]) -> dict[str, str]:
        def fetch(ids: list[str]) -> dict[str, str]:
            parts = self._version_rows("texts", ids, "n_parts", ["part", "text"])
            return {d: "".join(r["text"] for r in sorted(rows, key=lambda r: int(r["part"]))) for d, rows in parts.items()}

        return self._cached("texts", list(dict.fromkeys(doc_ids)), fetch)

    def page_starts(self, doc_ids: Iterable[str]) -> dict[str, list[int]]:
        return {d: json.loads(r["pages"]) for d, r in self._doc_records(doc_ids).items() if r["pages"]}

    # ---- chunks and sentences ---------------------------------------------------------------
    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        def fetch(part: list[int]) -> dict[int, ChunkRow]:
            rows = self.conn.query_many("chunks", "id", part, ["id", *CHUNK_FIELDS])
            current = self.versions(r["doc_id"] for r in rows)
            return {int(r["id"]): chunk_row(r) for r in rows if current.get(r["doc_id"]) == int(r["ver"])}

        return self._cached("chunks", list(dict.fromkeys(int(i) for i in ids)), fetch)

    def doc_sentences(self, doc_ids: Iterable[str]) -> dict[str, list[SentenceRow]]:
        def fetch(ids: list[str]) -> dict[str, list[SentenceRow]]:
            found = self._version_rows("sentences", ids, "n_sentences", ["start", "end", "vec", "terms"])
            return {d: sorted((_sentence(d, r) for r in found.get(d, [])), key=lambda s: s.start) for d in ids}

        return self._cached("sentences", list(dict.fromkeys(doc_ids)), fetch)

    def document_frequencies(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({term: sentences containing it}, sentences): the sum of every writer's counters."""
        def fetch(ts: list[str]) -> dict[str, int]:
            df = dict.fromkeys(ts, 0)
            for r in self.conn.query_many("terms", "term", [t[:512] for t in ts], ["term", "df"]):
                df[r["term"]] = df.get(r["term"], 0) + int(r["df"])
            return df

        found = self._cached("df", list({t for t in terms if t} | {"#"}), fetch)
        n = found.pop("#", 0)
        return {t: v for t, v in found.items() if v > 0}, n

    def counts(self) -> dict[str, int]:
        # server-side counts; chunks and sentences include those of a write under way
        return {"documents": self.conn.count("documents"), "chunks": self.conn.count("chunks"),
                "sentences": self.conn.count("sentences")}

    # ---- the write path ---------------------------------------------------------------------
    def write(self, bundles: list, removals: list[str], manifest: dict) -> None:
        from index.stores.milvus.write import write

        write(self, bundles, removals, manifest)


def _sentence(doc_id: str, r: dict) -> SentenceRow:
    return SentenceRow(doc_id, int(r["start"]), int(r["end"]), np.asarray(r["vec"], dtype=np.float32),
                       frozenset(r["terms"].split()))


__all__ = ["MilvusStore"]

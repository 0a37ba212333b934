"""The Milvus connection: collections, their schemas, and the few call shapes the store needs.

Every document write is tagged with a version (`ver`, a random 38-bit number, unique in practice)
carried by its chunks, sentences and text parts; the document's own row, written last, names the
version that counts. Readers only take rows whose version the document row names, so a writer
killed half-way leaves rows nobody reads (and that the next write of the same document, or
`sweep`, deletes), never a partial document. Milvus has no multi-row transaction: this is the
atomicity it can give.
"""
from __future__ import annotations

import logging
import secrets
import zlib
from collections.abc import Iterable
from functools import wraps
from pathlib import Path

from index.stores.errors import IndexUnavailable

log = logging.getLogger(__name__)


class _LiteUnimplemented(logging.Filter):
    """milvus-lite's in-process server logs a traceback each time pymilvus asks it for a timestamp
    (AllocTimestamp, which it does not implement) while creating an index; pymilvus carries on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], NotImplementedError))


logging.getLogger("grpc._server").addFilter(_LiteUnimplemented())

KINDS = ("documents", "chunks", "sentences", "texts", "terms", "meta")
TEXT_PART = 16_000  # characters per text row: VARCHAR holds 65,535 bytes, UTF-8 up to 4 a character
MAX_ROWS = 16_384  # what one Milvus query may return (offset + limit)
BUCKETS = 4_096  # documents are listed by ranges of a hash of their id (client.ranged)
BLANK = [0.0, 0.0]  # Milvus wants a vector field in every collection; these hold none of their own


class StoreUnreachable(IndexUnavailable):
    """The Milvus server did not answer, or refused the call: a 503, never a 500."""


def new_version() -> int:
    return secrets.randbits(38) + 1


def bucket(doc_id: str) -> int:
    return zlib.crc32(doc_id.encode()) % BUCKETS


def row_id(ver: int, i: int) -> int:
    """The primary key of row `i` of a document version: unique as long as versions are."""
    return (ver << 24) | i


def literal(value: str) -> str:
    """A string as a Milvus expression literal. pymilvus' own get(ids=...) quotes without
    escaping (an id with a quote breaks, or widens, the expression), so every string is built here."""
    if "\x00" in value:
        raise ValueError("a NUL cannot be matched in a Milvus expression")
    for ch, esc in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        value = value.replace(ch, esc)
    return '"' + value + '"'


def in_list(field: str, values: Iterable) -> str:
    vals = list(values)
    if vals and isinstance(vals[0], str):
        return f"{field} in [{', '.join(literal(v) for v in vals)}]"
    return f"{field} in [{', '.join(str(int(v)) for v in vals)}]"


def _guarded(fn):
    @wraps(fn)
    def call(self, *args, **kwargs):
        from pymilvus.exceptions import MilvusException

        try:
            return fn(self, *args, **kwargs)
        except MilvusException as exc:
            raise StoreUnreachable(f"the Milvus store at {self.uri} failed: {exc.message}") from exc
        except (ConnectionError, OSError) as exc:
            raise StoreUnreachable(f"the Milvus store at {self.uri} cannot be reached: {exc}") from exc
    return call


class MilvusConn:
    """One MilvusClient and the names of citeqa's collections in it."""

    def __init__(self, uri: str, token: str = "", db: str = "default", prefix: str = "citeqa",
                 dim: int = 384, index_type: str = "FLAT", create: bool = False, insert_batch: int = 1_000):
        self.uri = uri
        self.insert_batch = insert_batch
        self.dim = dim
        self.index_type = index_type
        self.names = {k: f"{prefix}_{k}" for k in KINDS}
        # milvus-lite keeps one process per data file; a cluster is reached over the network. Both
        # through the same client: only the URI differs.
        self.local = "://" not in uri
        if self.local and not uri.endswith(".db"):  # pymilvus reads any other path as a host name
            raise StoreUnreachable(f"CITEQA_MILVUS_URI {uri!r} is neither a server (http://host:port) nor a "
                                   "milvus-lite file (a path ending in .db)")
        if self.local:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            from pymilvus import MilvusClient

            kw = {"db_name": db} if db and db != "default" else {}
            self.client = MilvusClient(uri=uri, token=token or "", **kw)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds on connect
            raise StoreUnreachable(f"cannot connect to the Milvus store at {uri}: {exc}") from exc
        self._open(create)

    @classmethod
    def from_settings(cls, settings, dim: int = 384, create: bool = False) -> "MilvusConn":
        return cls(settings.resolved_milvus_uri(),
                   settings.milvus_token.get_secret_value() if settings.milvus_token else "", settings.milvus_db,
                   settings.milvus_prefix, dim, settings.milvus_index, create=create,
                   insert_batch=settings.milvus_insert_batch)

    @_guarded
    def _open(self, create: bool) -> None:
        have = set(self.client.list_collections())
        missing = [k for k in KINDS if self.names[k] not in have]
        if missing and not create:
            raise FileNotFoundError(f"no citeqa index in the Milvus store at {self.uri} "
                                    f"(collections {', '.join(self.names[k] for k in missing)} are missing); "
                                    "build it with `citeqa ingest`")
        from index.stores.milvus.schema import build

        for kind in missing:
            schema, params = build(self.client, kind, self.dim, self.index_type)
            # Strong: a cluster then reads its own writes (milvus-lite ignores the level)
            self.client.create_collection(self.names[kind], schema=schema, index_params=params,
                                          consistency_level="Strong")
        for kind in KINDS:  # a collection must be loaded again after a server restart
            self.client.load_collection(self.names[kind])

    # ---- calls ------------------------------------------------------------------------------
    @_guarded
    def query(self, kind: str, expr: str, fields: list[str], limit: int | None = None) -> list[dict]:
        kw = {"limit": limit} if limit else {}
        return list(self.client.query(self.names[kind], filter=expr, output_fields=fields, **kw))

    def query_many(self, kind: str, field: str, values: list, fields: list[str], extra: str = "",
                   per: int = 256) -> list[dict]:
        """Rows whose `field` is one of `values`, in slices (expressions and results are bounded). A
        string with a NUL is left out: no expression can hold it, and no stored value has one."""
        values = [v for v in values if not (isinstance(v, str) and "\x00" in v)]
        out: list[dict] = []
        for i in range(0, len(values), per):
            expr = in_list(field, values[i : i + per]) + (f" and ({extra})" if extra else "")
            out.extend(self.query(kind, expr, fields))
        return out

    def rows_of(self, kind: str, versions: dict[int, int], fields: list[str]) -> list[dict]:
        """Every row of the given document versions ({version: number of rows}), by primary key:
        a key lookup is what any Milvus does fastest (milvus-lite: 6 ms for 125 rows of 100k,
        against 137 ms for the same rows found by `ver in [...]`)."""
        ids = [row_id(v, i) for v, n in versions.items() for i in range(n)]
        return self.query_many(kind, "id", ids, fields, per=4_096)

    def ranged(self, kind: str, expr: str, fields: list[str], key: str, lo: int, hi: int,
               step: int | None = None) -> list[dict]:
        """Every row matching `expr`, however many, read by ranges of the INT64 field `key` over
        [lo, hi): a query returns at most MAX_ROWS, and milvus-lite has no query_iterator (its
        AllocTimestamp is not implemented). A range that fills a query is split and read again."""
        out: list[dict] = []
        step = step or (hi - lo)
        a = lo
        while a < hi:
            b = min(hi, a + max(1, step))
            rows = self.query(kind, f"({expr}) and {key} >= {a} and {key} < {b}", fields, limit=MAX_ROWS)
            if len(rows) >= MAX_ROWS and b - a > 1:
                step = max(1, (b - a) // 4)
                continue
            out.extend(rows)
            a = b
        return out

    @_guarded
    def count(self, kind: str, expr: str = "") -> int:
        rows = self.client.query(self.names[kind], filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @_guarded
    def search(self, kind: str, data, field: str, limit: int, expr: str, fields: list[str], metric: str) -> list[dict]:
        params = {"metric_type": metric}
        if metric == "IP" and self.index_type == "HNSW":
            params["params"] = {"ef": max(64, limit)}
        hits = self.client.search(self.names[kind], data=[data], anns_field=field, limit=limit, filter=expr,
                                  output_fields=fields, search_params=params)
        return [{"id": h["id"], "score": float(h["distance"]), **h["entity"]} for h in hits[0]]

    @_guarded
    def insert(self, kind: str, rows: list[dict]) -> None:
        batch = self.insert_batch
        for i in range(0, len(rows), batch):
            self.client.insert(self.names[kind], rows[i : i + batch])

    @_guarded
    def upsert(self, kind: str, rows: list[dict]) -> None:
        batch = self.insert_batch
        for i in range(0, len(rows), batch):
            self.client.upsert(self.names[kind], rows[i : i + batch])

    @_guarded
    def delete(self, kind: str, expr: str) -> None:
        self.client.delete(self.names[kind], filter=expr)

    @_guarded
    def flush(self) -> None:
        """Seal what was written: milvus-lite searches unsealed rows by brute force in Python
        (600 ms a question at 20k chunks, 16 ms once flushed). A cluster seals on its own and
        rate-limits flushes, but one per write batch stays well under its limit."""
        for kind in KINDS:
            self.client.flush(self.names[kind])

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error worth raising
            pass


__all__ = ["BLANK", "MAX_ROWS", "MilvusConn", "StoreUnreachable", "TEXT_PART", "in_list", "literal", "new_version",
           "row_id"]

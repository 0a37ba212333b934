"""The Milvus connection: collections, their schemas, and the few call shapes the store needs.

Every document write is tagged with a version (`ver`, a random 38-bit number, unique in practice)
carried by its chunks, sentences and text parts; the document's own row, written last, names the
version that counts. Readers only take rows whose version the document row names, so a writer
killed half-way leaves rows nobody reads (and that the next write of the same document, or
`sweep`, deletes), never a partial document. Milvus has no multi-row transaction: this is the
atomicity it can give.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import threading
import warnings
import zlib
from collections.abc import Iterable
from functools import wraps
from pathlib import Path

from index.config import MilvusConfig
from index.stores.errors import IndexUnavailable
from index.stores.milvus.schema import DenseIndex

log = logging.getLogger(__name__)

KINDS = ("documents", "chunks", "sentences", "texts", "terms", "meta")
TEXT_PART = 16_000  # characters per text row: VARCHAR holds 65,535 bytes, UTF-8 up to 4 a character
MAX_ROWS = 16_384  # what one Milvus query may return (offset + limit)
BUCKETS = 4_096  # documents are listed by ranges of a hash of their id (client.ranged)
BLANK = [0.0, 0.0]  # Milvus wants a vector field in every collection; these hold none of their own
# milvus-lite's rules for a database file's name (milvus_lite/server.py), checked here to say which setting is wrong
LITE_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")
LITE_NAME_MAX = 35


class StoreUnreachable(IndexUnavailable):
    """The Milvus server did not answer, or refused the call: a 503, never a 500."""


class IndexTypeRefused(IndexUnavailable):
    """The server cannot build the configured dense index (milvus-lite: FLAT, IVF_FLAT, AUTOINDEX only)."""


def new_version() -> int:
    return secrets.randbits(38) + 1


def bucket(doc_id: str) -> int:
    return zlib.crc32(doc_id.encode()) % BUCKETS


def key_of(text: str) -> str:
    """A string primary key as hex: milvus-lite 2.5.1 quotes a VARCHAR key into SQL unescaped when it
    deletes or upserts it (a doc id or a term with an apostrophe fails the write), so keys are hashed."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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


class _Embedded:
    """Embedded engines (a file URI) this process started, counted by file: pymilvus starts one per
    file and never stops it, so the last connection to close stops it (the file's lock goes with it)."""

    lock = threading.Lock()
    users: dict[str, int] = {}

    @classmethod
    def opened(cls, path: str) -> None:
        with cls.lock:
            cls.users[path] = cls.users.get(path, 0) + 1

    @classmethod
    def closed(cls, path: str) -> None:
        with cls.lock:
            cls.users[path] = cls.users.get(path, 1) - 1
            if cls.users[path] > 0:
                return
            del cls.users[path]
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(path)


def _import_pymilvus():
    # milvus_lite/__init__ imports pkg_resources (setuptools < 81 is pinned for it), which warns on import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import milvus_lite  # noqa: F401
    import pymilvus

    return pymilvus


def check_local_uri(uri: str) -> Path:
    """A milvus-lite file URI as milvus-lite will take it, or a message naming the setting."""
    path = Path(uri).absolute()
    if not uri.endswith(".db"):  # pymilvus reads any other path as a host name
        raise StoreUnreachable(f"CITEQA_MILVUS_URI {uri!r} is neither a server (http://host:port) nor a "
                               "milvus-lite file (a path ending in .db)")
    if not LITE_NAME.match(path.name) or len(path.name) > LITE_NAME_MAX:
        raise StoreUnreachable(f"CITEQA_MILVUS_URI {uri!r}: milvus-lite takes a file name of letters, digits, "
                               f"'.', '-' and '_' only, at most {LITE_NAME_MAX} characters")
    return path


class MilvusConn:
    """One MilvusClient and the names of citeqa's collections in it."""

    def __init__(self, uri: str, token: str = "", db: str = "default", prefix: str = "citeqa",
                 dim: int = 384, dense: DenseIndex | None = None, create: bool = False, insert_batch: int = 1_000,
                 timeout_s: float = 10.0):
        self.uri = uri
        self.insert_batch = insert_batch
        self.dim = dim
        self.dense = dense or DenseIndex()
        self.index_type = self.dense.type  # what the collection has, read from the server in _open
        # every call is bounded: pymilvus otherwise retries an unreachable server for minutes, and a
        # question should get its 503 in seconds. Whole seconds: pymilvus' retry loop ignores a
        # float timeout (isinstance(timeout, int)) and retries 75 times with back-off instead
        self.timeout = max(1, math.ceil(timeout_s))
        self.names = {k: f"{prefix}_{k}" for k in KINDS}
        # an embedded engine keeps one process per data file; a server is reached over the network.
        # Both through the same client: only the URI differs.
        self.local = "://" not in uri
        self._embedded = None
        if self.local:
            path = check_local_uri(uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._embedded = str(path.resolve())
        try:
            MilvusClient = _import_pymilvus().MilvusClient

            kw = {"db_name": db} if db and db != "default" else {}
            # an alias of its own: pymilvus shares one channel per URI, and closing any client closes it
            self.client = MilvusClient(uri=uri, token=token or "", timeout=timeout_s,
                                       alias=f"citeqa-{secrets.token_hex(6)}", **kw)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises many kinds on connect
            hint = (" (milvus-lite opens a file from one process at a time: several processes share "
                    "`citeqa milvus-server`)") if self.local and "Open local milvus failed" in str(exc) else ""
            raise StoreUnreachable(f"cannot connect to the Milvus store at {uri}: {exc}{hint}") from exc
        if self._embedded:
            _Embedded.opened(self._embedded)
        try:
            self._open(create)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(cls, cfg: MilvusConfig, dim: int = 384, create: bool = False) -> "MilvusConn":
        return cls(cfg.uri, cfg.token, cfg.db, cfg.prefix, dim, cfg.dense, create=create, insert_batch=cfg.insert_batch,
                   timeout_s=cfg.timeout_s)

    @_guarded
    def _open(self, create: bool) -> None:
        have = set(self.client.list_collections(timeout=self.timeout))
        missing = [k for k in KINDS if self.names[k] not in have]
        if missing and not create:
            raise FileNotFoundError(f"no citeqa index in the Milvus store at {self.uri} "
                                    f"(collections {', '.join(self.names[k] for k in missing)} are missing); "
                                    "build it with `citeqa ingest`")
        from index.stores.milvus.schema import build

        # chunks first: the one whose index a server may refuse, before anything else is created
        for kind in sorted(missing, key=lambda k: k != "chunks"):
            schema, params = build(self.client, kind, self.dim, self.dense)
            self._create(kind, schema, params)
        for kind in KINDS:  # a released collection cannot be read (a no-op when it is loaded)
            self.client.load_collection(self.names[kind], timeout=self.timeout)
        info = self.client.describe_index(self.names["chunks"], "vec", timeout=self.timeout) or {}
        self.index_type = info.get("index_type", self.dense.type)

    def _create(self, kind: str, schema, params) -> None:
        from pymilvus.exceptions import MilvusException

        name = self.names[kind]
        try:
            # Strong: every read sees the writes acknowledged before it, whichever replica made them
            self.client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong",
                                          timeout=self.timeout)
        except MilvusException as exc:
            if kind != "chunks" or "index" not in exc.message.lower():
                raise
            # the collection is created before its index: leave nothing half made behind
            self.client.drop_collection(name, timeout=self.timeout)
            raise IndexTypeRefused(
                f"the Milvus store at {self.uri} cannot build CITEQA_MILVUS_INDEX={self.dense.type}: {exc.message} "
                "(milvus-lite, embedded or `citeqa milvus-server`, builds FLAT, IVF_FLAT and AUTOINDEX; HNSW needs "
                "Milvus standalone or a cluster)") from exc

    # ---- calls ------------------------------------------------------------------------------
    @_guarded
    def query(self, kind: str, expr: str, fields: list[str], limit: int | None = None) -> list[dict]:
        kw = {"limit": limit} if limit else {}
        return list(self.client.query(self.names[kind], filter=expr, output_fields=fields, timeout=self.timeout, **kw))

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
        the lookup any Milvus does fastest (row keys are computed from the version, write.row_id)."""
        ids = [row_id(v, i) for v, n in versions.items() for i in range(n)]
        return self.query_many(kind, "id", ids, fields, per=4_096)

    def ranged(self, kind: str, expr: str, fields: list[str], key: str, lo: int, hi: int,
               step: int | None = None) -> list[dict]:
        """Every row matching `expr`, however many, read by ranges of the INT64 field `key` over
        [lo, hi): a query returns at most MAX_ROWS (offset + limit). Plain queries rather than a
        query_iterator, which keeps state on the server that a restart loses. A range that fills
        a query is split and read again."""
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
        rows = self.client.query(self.names[kind], filter=expr, output_fields=["count(*)"], timeout=self.timeout)
        return int(rows[0]["count(*)"]) if rows else 0

    @_guarded
    def search(self, kind: str, data, field: str, limit: int, expr: str, fields: list[str], metric: str) -> list[dict]:
        params = {"metric_type": metric}
        if metric == "IP":
            params["params"] = self.dense.search_params(self.index_type, limit)
        hits = self.client.search(self.names[kind], data=[data], anns_field=field, limit=limit, filter=expr,
                                  output_fields=fields, search_params=params, timeout=self.timeout)
        return [{"id": h["id"], "score": float(h["distance"]), **h["entity"]} for h in hits[0]]

    @_guarded
    def insert(self, kind: str, rows: list[dict]) -> None:
        batch = self.insert_batch
        for i in range(0, len(rows), batch):
            self.client.insert(self.names[kind], rows[i : i + batch], timeout=self.timeout)

    @_guarded
    def upsert(self, kind: str, rows: list[dict]) -> None:
        batch = self.insert_batch
        for i in range(0, len(rows), batch):
            self.client.upsert(self.names[kind], rows[i : i + batch], timeout=self.timeout)

    @_guarded
    def delete(self, kind: str, expr: str) -> None:
        self.client.delete(self.names[kind], filter=expr, timeout=self.timeout)

    @_guarded
    def flush(self) -> None:
        """Seal the growing segments (after `citeqa check --repair`). Not needed for a write to be
        durable or seen (Strong consistency), so the write path does not call it: a cluster
        rate-limits flushes and seals segments on its own."""
        for kind in KINDS:
            self.client.flush(self.names[kind], timeout=self.timeout)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error worth raising
            pass
        if self._embedded:
            path, self._embedded = self._embedded, None
            _Embedded.closed(path)


__all__ = ["BLANK", "MAX_ROWS", "IndexTypeRefused", "MilvusConn", "StoreUnreachable", "TEXT_PART", "check_local_uri", "key_of",
           "in_list", "literal", "new_version", "row_id"]

"""The store a setting names: the embedded SQLite + FAISS one (the default) or a Milvus store.

The only code that reads the store kind (`StoreConfig.store`): everything else asks this module what
it needs (open it, is it there, is there a local file to check or set aside, may several processes
write it, check it) and holds the result through index/stores/base.py's `Index` and `Store`."""
from __future__ import annotations

from pathlib import Path

from index.config import EmbedderConfig, StoreConfig
from index.embedding.embedder import Embedder
from index.stores.base import Index


def open_index(cfg: StoreConfig, embedder: Embedder, **kw) -> Index:
    """HybridIndex or MilvusIndex as `cfg` says; `kw`: create, for_writing, rebuild."""
    if cfg.store == "milvus":
        from index.stores.milvus.index import MilvusIndex

        return MilvusIndex.from_config(cfg, embedder, **kw)
    from index.stores.sqlite.index import HybridIndex

    return HybridIndex.from_config(cfg, embedder, **kw)


def _server(cfg: StoreConfig) -> bool:
    return cfg.store == "milvus" and cfg.milvus.server


def local_file(cfg: StoreConfig) -> Path | None:
    """The embedded store's SQLite file (what a precheck opens and a rebuild sets aside, never
    deletes); None for a Milvus store, whose engine checks its own data."""
    if cfg.store == "milvus":
        return None
    from index.stores.sqlite.index import DB_NAME

    return Path(cfg.index_dir) / DB_NAME


def index_exists(cfg: StoreConfig) -> bool:
    """Whether an index is there to open (without opening it)."""
    if cfg.store == "milvus":
        if _server(cfg):
            return True  # a server: opening it says whether citeqa's collections are there
        return Path(cfg.milvus.uri).exists()
    return local_file(cfg).exists()


def precheck(cfg: StoreConfig) -> str | None:
    """Why the configured index cannot be served, found without loading a model; None when it can
    be opened (a Milvus store is checked when the engine connects)."""
    db = local_file(cfg)
    if db is None:
        return None
    if not db.exists():
        return f"no index in {cfg.index_dir}; build it with `citeqa ingest` or start with `citeqa serve --ingest`"
    from index.stores.errors import IndexCorrupt, IndexUnavailable
    from index.stores.sqlite.store import Store

    try:
        Store(db).close()
    except (IndexCorrupt, IndexUnavailable) as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - permissions, a directory in the way, ...
        return f"cannot open the index at {cfg.index_dir}: {exc}"
    return None


def set_aside(cfg: StoreConfig) -> tuple[list, str | None, Path]:
    """A corrupt embedded store moved aside (never deleted): (the documents still readable in it,
    where reading stopped, where it went). Only the embedded store has a file to move."""
    from index.stores.sqlite.salvage import set_aside as salvage

    db = local_file(cfg)
    if db is None:
        raise ValueError("only the embedded store is set aside; a Milvus store is checked with `citeqa check`")
    return salvage(db)


def parallel_writers_refused(cfg: StoreConfig) -> str | None:
    """Why several ingest processes cannot write this store at once, or None when they can."""
    if cfg.store != "milvus":
        return ("--workers needs a server-backed store (CITEQA_STORE=milvus): the embedded store keeps one writer")
    if not _server(cfg):
        return ("--workers needs a Milvus server (CITEQA_MILVUS_URI=http://host:port): a Milvus file is opened "
                "by one process at a time (several processes share a Milvus server: docs/scale.md)")
    return None


def check(cfg: StoreConfig, embedder_cfg: EmbedderConfig, repair: bool) -> int:
    """`citeqa check [--repair]` on the configured store; the exit status (0 sound, 1 problems, 2 error).
    `embedder_cfg`: the model a repair of the embedded store re-embeds with."""
    if cfg.store == "milvus":
        from index.stores.milvus.check import main as check_milvus

        return check_milvus(cfg, repair)
    from index.stores.sqlite.check import main as check_sqlite

    return check_sqlite(cfg, embedder_cfg, repair)


__all__ = ["check", "index_exists", "local_file", "open_index", "parallel_writers_refused", "precheck", "set_aside"]

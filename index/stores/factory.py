"""The index a setting names: the embedded SQLite + FAISS one (the default) or a Milvus store."""
from __future__ import annotations

from index.embedding.embedder import Embedder


def open_index(settings, embedder: Embedder, **kw):
    """HybridIndex or MilvusIndex from the settings; `kw`: create, for_writing, rebuild."""
    if settings.store == "milvus":
        from index.stores.milvus.index import MilvusIndex

        return MilvusIndex.from_settings(settings, embedder, **kw)
    from index.stores.sqlite.index import HybridIndex

    return HybridIndex.from_settings(settings, embedder, **kw)


def index_exists(settings) -> bool:
    """Whether an index is there to open (without opening it)."""
    from pathlib import Path

    if settings.store == "milvus":
        if settings.milvus_uri and "://" in settings.milvus_uri:
            return True  # a server: opening it says whether citeqa's collections are there
        return Path(settings.resolved_milvus_uri()).exists()
    from index.stores.sqlite.index import DB_NAME

    return (Path(settings.index_dir) / DB_NAME).exists()


__all__ = ["index_exists", "open_index"]

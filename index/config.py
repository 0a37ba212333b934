"""The values the index floor is built from: plain, frozen, picklable (an ingest worker process gets
them as they are). No defaults here: the service makes every field from its one settings object
(`Settings.embedder_config()`, `Settings.store_config()` in service/config.py), so there is one place
for them; nothing under index/ reads the service's settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.stores.milvus.schema import DenseIndex  # plain data (no Milvus client imported)


@dataclass(frozen=True)
class EmbedderConfig:
    model_path: Path
    model_name: str
    batch_size: int
    quantize: bool
    backend: str  # onnx, torch or auto
    onnx_cache_dir: Path
    threads: int  # 0: the caller's choice (all cores for an ingest, one per question in the service)


@dataclass(frozen=True)
class MilvusConfig:
    uri: str  # resolved: a server's http(s)://… or a milvus-lite file
    token: str = field(repr=False)
    db: str
    prefix: str
    dense: DenseIndex  # the chunk vectors' index and its search parameters
    insert_batch: int
    timeout_s: int
    refresh_s: float

    @property
    def server(self) -> bool:
        return "://" in self.uri


@dataclass(frozen=True)
class StoreConfig:
    index_dir: Path
    store: str  # embedded or milvus (index/stores/factory.py is the one reader of this kind)
    chunk_tokens: int
    chunk_overlap: int  # sentences a chunk shares with the next
    faiss_factory: str
    ann_threshold: int
    ef_search: int
    nprobe: int
    quick_check_bytes: int
    late_sentences: bool | None  # sentence vectors pooled from the chunk pass; None: as the index was built
    # (its manifest), separate for a new index or a rebuild
    pooled_chunks: bool  # chunk vectors pooled from the sentence pass
    milvus: MilvusConfig  # where a Milvus store is (read when store is milvus)


__all__ = ["EmbedderConfig", "MilvusConfig", "StoreConfig"]

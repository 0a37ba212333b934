"""The values the index floor is built from: plain, frozen, picklable (an ingest worker process gets
them as they are). The service makes them from its one settings object (`Settings.embedder_config()`,
`Settings.store_config()` in service/config.py); nothing under index/ reads the service's settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.stores.milvus.schema import DenseIndex  # plain data (no Milvus client imported)


@dataclass(frozen=True)
class EmbedderConfig:
    model_path: Path
    model_name: str = ""
    batch_size: int = 32
    quantize: bool = False
    backend: str = "auto"  # onnx, torch or auto
    onnx_cache_dir: Path = Path(".citeqa/onnx")
    threads: int = 0  # 0: the caller's choice (all cores for an ingest, one per question in the service)


@dataclass(frozen=True)
class MilvusConfig:
    uri: str  # resolved: a server's http(s)://… or a milvus-lite file
    token: str = field(default="", repr=False)
    db: str = "default"
    prefix: str = "citeqa"
    dense: DenseIndex = DenseIndex()  # the chunk vectors' index and its search parameters
    insert_batch: int = 1000
    timeout_s: int = 10
    refresh_s: float = 1.0

    @property
    def server(self) -> bool:
        return "://" in self.uri


@dataclass(frozen=True)
class StoreConfig:
    index_dir: Path
    store: str = "embedded"  # or milvus (index/stores/factory.py is the one reader of this kind)
    chunk_tokens: int = 160
    chunk_overlap: int = 1  # sentences a chunk shares with the next
    faiss_factory: str = "auto"
    ann_threshold: int = 50_000
    ef_search: int = 64
    nprobe: int = 16
    quick_check_bytes: int = 0
    late_sentences: bool = False  # sentence vectors pooled from the chunk pass
    pooled_chunks: bool = False  # chunk vectors pooled from the sentence pass
    milvus: MilvusConfig | None = None  # where a Milvus store is (needed when store is milvus)


__all__ = ["EmbedderConfig", "MilvusConfig", "StoreConfig"]

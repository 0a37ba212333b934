"""`citeqa ingest --workers N`: the documents to embed spread over N processes, each writing to the
server-backed store (Milvus) on its own, one document at a time (each write atomic).

The embedded store keeps one writer (one SQLite file, one FAISS cache), and milvus-lite one process
per data file, so both are refused with what to do instead. Each worker loads its own model (ONNX
Runtime, cores / N threads): embedding is the cost, and separate processes are what spread it
(the GIL is held between model calls).
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from index.config import EmbedderConfig, StoreConfig
from index.types import CleanDocument
from index.ingest import IngestReport, plan
from index.stores.factory import parallel_writers_refused

log = logging.getLogger(__name__)

BATCH = 16  # documents embedded and written together by one worker


class WorkersRefused(ValueError):
    """--workers asked of a store that keeps one writer."""


def check_parallel(cfg: StoreConfig, workers: int) -> None:
    if workers <= 1:
        return
    refused = parallel_writers_refused(cfg)
    if refused:
        raise WorkersRefused(refused)


def ingest_parallel(cfg: StoreConfig, embedder_cfg: EmbedderConfig, index, paths: list[Path], workers: int,
                    rebuild: bool = False, max_file_bytes: int | None = None) -> IngestReport:
    check_parallel(cfg, workers)
    t0 = time.perf_counter()
    kw = {"max_file_bytes": max_file_bytes} if max_file_bytes else {}
    report, todo = plan(index, paths, rebuild, **kw)
    if report.removed:
        index.apply([], report.removed)
    parts = [todo[i::workers] for i in range(workers)]
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn: a fork would copy this process's loaded model and open client (neither fork-safe)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_work, cfg, embedder_cfg, part, threads) for part in parts if part]
        for f in as_completed(futures):
            chunks, sentences = f.result()
            report.chunks_embedded += chunks
            report.sentences_embedded += sentences
    report.totals = index.store.counts()
    report.seconds = time.perf_counter() - t0
    return report


def _work(cfg: StoreConfig, embedder_cfg: EmbedderConfig, docs: list[CleanDocument], threads: int) -> tuple[int, int]:
    """One worker: its share of the documents, embedded and written BATCH at a time."""
    from index.embedding.embedder import Embedder
    from index.stores.factory import open_index

    embedder = Embedder.from_config(embedder_cfg, threads=threads)
    index = open_index(cfg, embedder, for_writing=True)
    chunks = sentences = 0
    try:
        for i in range(0, len(docs), BATCH):
            bundles = index.prepare(docs[i : i + BATCH], progress=False)
            index.apply(bundles, [])
            chunks += sum(len(b.chunks) for b in bundles)
            sentences += sum(len(b.sentences) for b in bundles)
    finally:
        index.close()
    return chunks, sentences


__all__ = ["WorkersRefused", "check_parallel", "ingest_parallel"]

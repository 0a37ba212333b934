"""The store backends side by side (no model: vectors are random unit vectors, so only the store
is measured): write rate, disk and memory per row, and the per-question reads (dense top-30,
BM25 top-30, the sentences of 5 documents, read cold) at a few corpus sizes.

    python -m eval.bench.store [--docs 1000,4000,40000] [--backends embedded,milvus] [--queries 200]
                               [--nprobe 4,16,64] [--vectors random|clustered] [--seal]

The Milvus store runs on Milvus' own engine (milvus-lite 2.5.1, embedded). For it, the dense search
is also swept over IVF_FLAT's nprobe (--nprobe): recall@30 against exact inner product, and latency, on the
growing segments as written and (--seal) after a flush has sealed them and the index is built.
The figures feed README and docs/scale.md.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench import corpus_gen
from eval.bench.common import DEFAULT_OUT, load_questions, machine_info, mib, ms_stats, rss_bytes, table


class RandomEncoder:
    """Stands in for the embedder: unit vectors, seeded (the store cannot tell)."""

    model_name, dim, can_late_chunk = "bench-random", 384, False

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def encode(self, texts, progress=None):
        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


class ClusteredEncoder(RandomEncoder):
    """Unit vectors around `k` random centres (cosine ~0.7 to their centre, as a text embedding is
    to its topic's mean): random vectors have no clusters, the worst case for an IVF index."""

    def __init__(self, seed: int = 0, k: int = 1000, spread: float = 1.0):
        super().__init__(seed)
        c = self.rng.standard_normal((k, self.dim)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        self.noise = spread / np.sqrt(self.dim)

    def encode(self, texts, progress=None):
        pick = self.rng.integers(0, len(self.centres), len(texts))
        v = self.centres[pick] + self.noise * self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


ENCODERS = {"random": RandomEncoder, "clustered": ClusteredEncoder}


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def nprobe_sweep(conn, queries, truth: list[set[int]], nprobes: list[int], search, stage: str, k: int = 30) -> list[dict]:
    """Milvus' dense search at each nprobe: recall@k of `search(query)` (the ids it finds) against
    `truth` (the exact top k of each query), and its latency."""
    from dataclasses import replace

    out, base = [], conn.dense
    for n in nprobes:
        conn.dense = replace(base, nprobe=n)
        times, recall = [], []
        for q, want in zip(queries, truth):
            t = time.perf_counter()
            got = search(q)
            times.append(time.perf_counter() - t)
            recall.append(len(want & got) / k)
        st = ms_stats(times)
        out.append({"segments": stage, "index": conn.index_type, "nlist": base.nlist, "nprobe": n,
                    f"recall_at_{k}": round(float(np.mean(recall)), 3), "p50_ms": st["p50_ms"], "p95_ms": st["p95_ms"]})
    conn.dense = base
    return out


def _sweep(idx, bundles, enc, n_queries: int, nprobes: list[int], stage: str) -> list[dict]:
    """The sweep through the store's own dense search, over the bundles' chunk vectors."""
    from index.stores.milvus.client import row_id

    vers = idx.store.versions(b.doc.doc_id for b in bundles)
    ids = np.array([row_id(vers[b.doc.doc_id], ch.ord) for b in bundles for ch in b.chunks])
    vecs = np.vstack([np.asarray(b.chunk_vectors, dtype=np.float32) for b in bundles])
    queries = [enc.encode(["q"])[0] for _ in range(n_queries)]
    truth = [set(ids[np.argsort(-(vecs @ q))[:30]].tolist()) for q in queries]
    return nprobe_sweep(idx.store.conn, queries, truth, nprobes, lambda q: {i for i, _ in idx.search_dense(q, 30)}, stage)


def seal(conn, limit_s: float = 600) -> float:
    """Flush (sealing the growing segments) and wait until the engine reports no rows pending an
    index; seconds taken. milvus-lite reports no row counts, only the state, and still searches
    through its interim index afterwards (README: the sweep is the same after a flush)."""
    t = time.perf_counter()
    conn.flush()
    while time.perf_counter() - t < limit_s:
        info = conn.client.describe_index(conn.names["chunks"], "vec") or {}
        if int(info.get("pending_index_rows", 0) or 0) == 0 and info.get("state", "Finished") == "Finished":
            break
        time.sleep(2)
    return round(time.perf_counter() - t, 1)


def _sealed_sweep(idx, bundles, enc, n_queries: int, nprobes: list[int]) -> list[dict]:
    """The same sweep after `seal`."""
    sealed_s = seal(idx.store.conn)
    return [{**r, "flush_and_index_s": sealed_s} for r in _sweep(idx, bundles, enc, n_queries, nprobes, "sealed")]


def one(backend: str, docs: list, n_queries: int, questions: list[str], nprobes: list[int] = (),
        bundles: list | None = None, vectors: str = "random", seal: bool = False) -> tuple[dict, list]:
    """One backend at one size: its figures, and the write bundles (store-independent: the next
    backend at this size reuses them instead of chunking and splitting the corpus again)."""
    from index.stores.factory import open_index
    from service.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", store=backend)
        enc = ENCODERS[vectors]()
        rss0 = rss_bytes()
        idx = open_index(settings.store_config(), enc, create=True, for_writing=True)
        try:
            bundles = bundles or idx.prepare(docs, progress=False)
            n_chunks = sum(len(b.chunks) for b in bundles)
            n_sents = sum(len(b.sentences) for b in bundles)
            t0 = time.perf_counter()
            for i in range(0, len(bundles), 64):  # what ingest workers and uploads do: batches
                idx.apply(bundles[i : i + 64], [])
            write_s = time.perf_counter() - t0
            rng = random.Random(1)
            doc_ids = [d.doc_id for d in docs]
            dense, bm25, sents = [], [], []
            for q in range(n_queries):
                qvec = enc.encode(["q"])[0]
                t = time.perf_counter()
                idx.search_dense(qvec, 30)
                dense.append(time.perf_counter() - t)
                t = time.perf_counter()
                idx.search_bm25(questions[q % len(questions)], 30)
                bm25.append(time.perf_counter() - t)
                for cache in idx.store._caches.values():  # a cold read: what a question about new documents pays
                    cache.clear()
                t = time.perf_counter()
                idx.store.doc_sentences(rng.sample(doc_ids, 5))
                sents.append(time.perf_counter() - t)
            rss = rss_bytes()
            disk = _dir_bytes(Path(tmp))
            sweep = []
            if backend == "milvus" and nprobes:
                sweep = _sweep(idx, bundles, enc, min(n_queries, 100), nprobes, "growing")
                if seal:
                    sweep += _sealed_sweep(idx, bundles, enc, min(n_queries, 100), nprobes)
        finally:
            idx.close()
    rows = n_chunks + n_sents
    return {"backend": backend, "vectors": vectors, "documents": len(docs), "chunks": n_chunks, "sentences": n_sents,
            "write_s": round(write_s, 2), "rows_per_s": round(rows / write_s), "disk_mib": mib(disk),
            "disk_bytes_per_row": round(disk / rows), "rss_growth_mib": mib(rss - rss0) if rss and rss0 else None,
            "dense_top30": ms_stats(dense), "bm25_top30": ms_stats(bm25), "sentences_of_5_docs": ms_stats(sents),
            "dense_sweep": sweep}, bundles


def main(argv: list[str] | None = None) -> int:
    from index.text.loading import load_file

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", default="1000,4000")
    p.add_argument("--backends", default="embedded,milvus")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--nprobe", default="4,16,64", help="Milvus IVF_FLAT nprobe values swept (empty: none)")
    p.add_argument("--vectors", choices=sorted(ENCODERS), default="random",
                   help="random unit vectors (no clusters: IVF's worst case) or clustered ones, as embeddings are")
    p.add_argument("--seal", action="store_true", help="also sweep after a flush has sealed and indexed the segments")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    questions = load_questions()
    results, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.docs.split(",")):
            paths = corpus_gen.generate(Path(tmp) / f"c{n}", n)
            docs, bundles = [load_file(pth) for pth in paths], None
            for backend in args.backends.split(","):
                r, bundles = one(backend, docs, args.queries, questions, [int(x) for x in args.nprobe.split(",") if x],
                                 bundles, args.vectors, args.seal)
                results.append(r)
                print(json.dumps(r), flush=True)
                rows.append([backend, r["chunks"], r["sentences"], r["rows_per_s"], r["disk_bytes_per_row"],
                             r["rss_growth_mib"], r["dense_top30"]["p50_ms"], r["dense_top30"]["p95_ms"],
                             r["bm25_top30"]["p50_ms"], r["bm25_top30"]["p95_ms"], r["sentences_of_5_docs"]["p50_ms"],
                             r["sentences_of_5_docs"]["p95_ms"]])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"store-{args.vectors}.json").write_text(json.dumps({"results": results, "machine": machine_info()}, indent=2))
    print(table(["store", "chunks", "sentences", "rows/s", "disk B/row", "RSS +MiB", "dense p50", "dense p95",
                 "bm25 p50", "bm25 p95", "sents p50", "sents p95"], rows, f"STORE BACKENDS ({args.vectors} vectors, no model)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Dense recall of citeqa's Milvus chunk collection at scale, on clustered vectors.

    python -m eval.bench.milvus_recall [--rows 302000] [--nprobe 4,16,64] [--queries 100] [--vectors clustered]

`eval.bench.store` measured recall@30 = 0.142 at 302k chunks for every nprobe on random vectors:
milvus-lite searches growing (unsealed) segments through its interim index, whatever the search's
nprobe. Random vectors have no clusters (IVF's worst case); text embeddings do. This probe writes
`--rows` chunk rows straight into a chunk collection made by citeqa's own schema and index settings
(index/stores/milvus/schema.py, IVF_FLAT nlist 128 by default; no documents, chunking or model, so
it runs in minutes), then sweeps nprobe twice, as written (growing segments) and after a flush has
sealed them: recall@30 against exact inner product over the same vectors, and latency.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench.common import DEFAULT_OUT, machine_info
from eval.bench.store import ENCODERS, nprobe_sweep, seal


def _rows(vecs: np.ndarray, start: int) -> list[dict]:
    return [{"id": start + i, "ver": 1, "doc_id": f"d{(start + i) // 8}", "bucket": 0, "chunk_id": f"c{start + i}",
             "date": "", "ord": (start + i) % 8, "start": 0, "end": 1, "n_tokens": 1, "words": "w",
             "vec": v.tolist()} for i, v in enumerate(vecs)]


def sweep(conn, vecs: np.ndarray, queries: np.ndarray, nprobes: list[int], stage: str, k: int = 30) -> list[dict]:
    truth = [set(np.argsort(-(vecs @ q))[:k].tolist()) for q in queries]
    return nprobe_sweep(conn, queries, truth, nprobes,
                        lambda q: {int(h["id"]) for h in conn.search("chunks", q.tolist(), "vec", k, "", ["id"], "IP")},
                        stage, k)


def run(rows: int, nprobes: list[int], n_queries: int, vectors: str, batch: int = 1000) -> dict:
    from index.stores.milvus.client import MilvusConn
    from index.stores.milvus.schema import DenseIndex

    enc = ENCODERS[vectors]()
    vecs = enc.encode(["x"] * rows)
    queries = enc.encode(["q"] * n_queries)
    with tempfile.TemporaryDirectory() as tmp:
        conn = MilvusConn(str(Path(tmp) / "recall.db"), dense=DenseIndex(), create=True, insert_batch=batch,
                          timeout_s=120)
        try:
            t = time.perf_counter()
            for i in range(0, rows, batch):
                conn.insert("chunks", _rows(vecs[i:i + batch], i))
            write_s = time.perf_counter() - t
            result = sweep(conn, vecs, queries, nprobes, "growing")
            sealed_s = seal(conn)
            result += sweep(conn, vecs, queries, nprobes, "sealed")
        finally:
            conn.close()
    return {"rows": rows, "vectors": vectors, "write_rows_per_s": round(rows / write_s), "flush_s": sealed_s,
            "sweep": result}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=302_000)
    p.add_argument("--nprobe", default="4,16,64")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--vectors", choices=sorted(ENCODERS), default="clustered")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    r = run(args.rows, [int(x) for x in args.nprobe.split(",")], args.queries, args.vectors)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"milvus_recall-{args.vectors}.json").write_text(json.dumps({**r, "machine": machine_info()}, indent=2))
    print(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

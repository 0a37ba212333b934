"""One large article through ingest (hardening point 3: ingest must be linear in a document's
length): seconds per MB at several sizes, for the text steps alone (cleaning, sentences, chunking,
stand-alone sentences, match texts) and, unless --text-only, for the whole `citeqa ingest` of the
file (embedding included) into a fresh index.

    python -m eval.bench.bigdoc [--sizes-mb 1,2,5] [--whole-up-to-mb 2] [--kind text|nopunct]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from eval.bench.common import DEFAULT_OUT, machine_info, table
from eval.bench.upload import make_document


def text_steps(embedder, path: Path) -> float:
    """Seconds of HybridIndex.prepare without the model (its encode replaced by zeros)."""
    import numpy as np

    from index.stores.sqlite.index import HybridIndex
    from index.text.loading import load_file

    with tempfile.TemporaryDirectory() as tmp:
        idx = HybridIndex(Path(tmp) / "i", embedder, create=True, for_writing=True)
        try:
            t0 = time.perf_counter()
            doc = load_file(path, max_bytes=10**9)
            idx.prepare([doc], progress=False,
                        encode=lambda texts, progress=None: np.zeros((len(texts), embedder.dim), np.float32))
            return time.perf_counter() - t0
        finally:
            idx.close()


def whole(settings, embedder, path: Path) -> tuple[float, int]:
    from index.stores.sqlite.index import HybridIndex
    from index.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings.model_copy(update={"index_dir": Path(tmp) / "i"}).store_config()
        idx = HybridIndex.from_config(cfg, embedder, create=True, for_writing=True)
        try:
            t0 = time.perf_counter()
            rep = ingest(idx, [path], progress=False, max_file_bytes=10**9)
            return time.perf_counter() - t0, rep.chunks_embedded
        finally:
            idx.close()


def main() -> int:
    from index.embedding.embedder import Embedder
    from service.config import Settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes-mb", default="1,2,5")
    p.add_argument("--whole-up-to-mb", type=float, default=2.0, help="whole ingests only up to this size")
    p.add_argument("--kind", choices=("text", "nopunct"), default="text")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args()
    settings = Settings()
    embedder = Embedder.from_config(settings.embedder_config())
    rows, res = [], {"kind": args.kind, "embedder": embedder.model_name,
                     "sentence_vectors": settings.sentence_vectors, "sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        for mb in (float(x) for x in args.sizes_mb.split(",")):
            path = Path(tmp) / f"big-{mb:g}mb.txt"
            path.write_text(make_document(int(mb * 1_000_000), args.kind), encoding="utf-8")
            steps = text_steps(embedder, path)
            entry = {"mb": mb, "text_steps_s": round(steps, 2), "text_steps_s_per_mb": round(steps / mb, 2)}
            if mb <= args.whole_up_to_mb:
                secs, chunks = whole(settings, embedder, path)
                entry.update(whole_s=round(secs, 1), whole_s_per_mb=round(secs / mb, 1), chunks=chunks,
                             chunks_per_s=round(chunks / secs, 1))
            res["sizes"].append(entry)
            rows.append([mb, entry["text_steps_s_per_mb"], entry.get("whole_s_per_mb", "-"), entry.get("chunks", "-"),
                         entry.get("chunks_per_s", "-")])
            print(json.dumps(entry), flush=True)
    res["machine"] = machine_info()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bigdoc.json").write_text(json.dumps(res, indent=2))
    print(table(["MB", "text steps s/MB", "whole ingest s/MB", "chunks", "chunks/s"], rows,
                f"ONE LARGE ARTICLE ({args.kind}, {embedder.model_name}, {settings.sentence_vectors} sentences)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

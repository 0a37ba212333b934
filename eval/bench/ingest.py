"""Ingest throughput: a generated corpus through HybridIndex + index.ingest.ingest (the real model).

Three runs over one index in a temporary folder: the full build, a re-run with nothing changed
(the fixed cost of reading and hashing every file), and a re-run after 1% of the articles changed
(should cost about 1% of the build plus that fixed cost). The time is split by wrapping the
index's own collaborators: embedder.encode (the model), store.write (SQLite: rows, FTS5, term
statistics), the rest of HybridIndex.apply (the FAISS update and its file) and everything else
(reading, cleaning, sentence splitting, chunking, token counting).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from eval.bench import corpus_gen
from eval.bench.common import Clock, mib, system_load
from index.stores.factory import open_index
from index.stores.sqlite.index import HybridIndex
from index.ingest import ingest

TARGET_CHUNKS_PER_S = 100.0


class _Timed:
    """Accumulated wall time of calls to one function."""

    def __init__(self, fn):
        self.fn, self.seconds, self.calls, self.items = fn, 0.0, 0, 0

    def __call__(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return self.fn(*a, **kw)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1
            if a and isinstance(a[0], list):
                self.items += len(a[0])

    def reset(self):
        self.seconds, self.calls, self.items = 0.0, 0, 0


class _TimedEmbedder:
    """The embedder with its encode timed; everything else passes through."""

    def __init__(self, embedder):
        self._inner = embedder
        self.encode = _Timed(embedder.encode)
        self.encode_spans = _Timed(embedder.encode_spans)  # late chunking's one pass

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _instrument(index: HybridIndex) -> dict[str, _Timed]:
    index.embedder = _TimedEmbedder(index.embedder)
    timers = {"embed": index.embedder.encode, "embed_spans": index.embedder.encode_spans, "store_write": _Timed(index.store.write), "apply": _Timed(index.apply)}
    index.store.write = timers["store_write"]
    index.apply = timers["apply"]
    return timers


def _run(index: HybridIndex, corpus: Path, timers: dict[str, _Timed]) -> dict:
    for t in timers.values():
        t.reset()
    with Clock() as c:
        rep = ingest(index, [corpus], progress=False)
    embed = timers["embed"].seconds + timers["embed_spans"].seconds
    write, apply = timers["store_write"].seconds, timers["apply"].seconds
    secs = c.wall
    out = {
        "seconds": round(secs, 3),
        "cpu_seconds": round(c.cpu, 3),
        "documents_added": len(rep.added),
        "documents_updated": len(rep.updated),
        "documents_unchanged": len(rep.unchanged),
        "documents_skipped": len(rep.skipped),
        "chunks_embedded": rep.chunks_embedded,
        "sentences_embedded": rep.sentences_embedded,
        "texts_embedded": timers["embed"].items + timers["embed_spans"].items,
        "model_passes": {"separate": timers["embed"].items, "late_chunk": timers["embed_spans"].items},
        "split_s": {
            "embedding": round(embed, 3),
            "sqlite_write": round(write, 3),
            "dense_update": round(apply - write, 3),
            "read_clean_split_chunk": round(secs - embed - apply, 3),
        },
        "embedding_share": round(embed / secs, 3) if secs else None,
        "totals": rep.totals,
    }
    changed = len(rep.added) + len(rep.updated)
    if secs and changed:
        out["documents_per_s"] = round(changed / secs, 2)
        out["chunks_per_s"] = round(rep.chunks_embedded / secs, 2)
        out["sentences_per_s"] = round(rep.sentences_embedded / secs, 2)
        out["chunks_per_cpu_s"] = round(rep.chunks_embedded / c.cpu, 2) if c.cpu else None
        if embed:
            out["embedded_texts_per_s"] = round((timers["embed"].items + timers["embed_spans"].items) / embed, 1)
    return out


def embed_microbench(embedder, corpus: Path, batch_sizes=(16, 32, 64), n_sent: int = 256, n_chunks: int = 64) -> dict:
    """Model throughput on sentence-length and chunk-length texts of the corpus, by batch size."""
    from index.text.chunking import chunk_text
    from index.text.loading import load_file
    from index.text.sentences import split_sentences
    from index.text.tokens import count_tokens

    sents, chunks = [], []
    for p in sorted(Path(corpus).glob("*.txt")):
        d = load_file(p)
        sp = split_sentences(d.text)
        sents += [d.text[s.start : s.end] for s in sp]
        chunks += [f"{d.title}\n{ch.text}" for ch in chunk_text(d.doc_id, d.text, sp, 160, 1, count_tokens)]
        if len(sents) >= n_sent and len(chunks) >= n_chunks:
            break
    sents, chunks = sents[:n_sent], chunks[:n_chunks]
    tok = embedder.tokenizer
    out = {"sentence_wordpieces_mean": round(sum(len(tok(s)["input_ids"]) for s in sents) / max(1, len(sents)), 1),
           "chunk_wordpieces_mean": round(sum(len(tok(c)["input_ids"]) for c in chunks) / max(1, len(chunks)), 1),
           "by_batch_size": []}
    old = embedder.batch_size
    embedder.encode(sents[:32], progress=False)  # warm
    try:
        for bs in batch_sizes:
            embedder.batch_size = bs
            with Clock() as cs:
                embedder.encode(sents, progress=False)
            with Clock() as cc:
                embedder.encode(chunks, progress=False)
            out["by_batch_size"].append({"batch_size": bs, "sentences_per_s": round(len(sents) / cs.wall, 1),
                                         "chunks_per_s": round(len(chunks) / cc.wall, 1)})
    finally:
        embedder.batch_size = old
    return out


def run_real(embedder, settings, articles: int = 10, work_dir: Path | None = None, source: Path | None = None) -> dict:
    """The longest real articles of the SQuAD training file (eval/bench/real_corpus.py) into a
    fresh index with the configured settings, and where the time goes (eval/bench/ingest_stages.py)."""
    from eval.bench import ingest_stages, real_corpus

    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="citeqa-ingest-real-"))
    corpus, index_dir = work / "corpus", work / "index"
    try:
        load_before = system_load()
        paths = real_corpus.write(corpus, articles, source or real_corpus.SOURCE)
        index = open_index(settings.model_copy(update={"index_dir": index_dir}).store_config(), embedder, create=True,
                           for_writing=True)
        try:
            full = _run(index, corpus, _instrument(index))
            vectors = {"chunk_vectors": index.chunk_vector_kind(), "sentence_vectors": index.sentence_vector_kind()}
        finally:
            index.close()
        stages = ingest_stages.profile(corpus, embedder, settings.chunk_tokens, settings.chunk_overlap_sentences)
        return {"articles": [p.stem for p in paths], "bytes": sum(p.stat().st_size for p in paths), **vectors,
                "full": full, "stages": stages, "target_chunks_per_s": TARGET_CHUNKS_PER_S,
                "target_met": (full.get("chunks_per_s") or 0) >= TARGET_CHUNKS_PER_S,
                "load_before": load_before, "load_after": system_load()}
    finally:
        if not work_dir:
            shutil.rmtree(work, ignore_errors=True)


def report_real(res: dict) -> str:
    from eval.bench import ingest_stages

    f = res["full"]
    sp = f["split_s"]
    return (f"INGEST (real articles: {len(res['articles'])} SQuAD training articles, {res['bytes']} bytes; "
            f"chunk vectors {res['chunk_vectors']}, sentence vectors {res['sentence_vectors']})\n"
            f"  {f['chunks_embedded']} chunks, {f['sentences_embedded']} sentences in {f['seconds']} s: "
            f"{f.get('chunks_per_s')} chunks/s (target >= {res['target_chunks_per_s']:.0f}: "
            f"{'met' if res['target_met'] else 'NOT met'}); embedding {sp['embedding']} s, SQLite + FTS5 "
            f"{sp['sqlite_write']} s, FAISS {sp['dense_update']} s, the rest {sp['read_clean_split_chunk']} s\n"
            + ingest_stages.report(res["stages"], "each stage alone (both model passes, whatever the setting)"))


def run(embedder, settings, n_docs: int = 2000, seed: int = 13, change_fraction: float = 0.01,
        work_dir: Path | None = None, keep: bool = False, microbench: bool = True) -> dict:
    own = work_dir is None
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="citeqa-ingest-"))
    corpus, index_dir = work / "corpus", work / "index"
    try:
        load_before = system_load()
        with Clock() as cg:
            paths = corpus_gen.generate(corpus, n_docs, seed)
        corpus_bytes = sum(p.stat().st_size for p in paths)
        # the configured store (CITEQA_STORE=milvus: the same corpus into Milvus)
        index = open_index(settings.model_copy(update={"index_dir": index_dir}).store_config(), embedder, create=True,
                           for_writing=True)
        try:
            timers = _instrument(index)
            full = _run(index, corpus, timers)
            noop = _run(index, corpus, timers)
            changed = corpus_gen.modify(corpus, n_docs, change_fraction, seed)
            incr = _run(index, corpus, timers)
            dense_factory = index.dense.factory
        finally:
            index.close()
        disk = {p.name: mib(sum(f.stat().st_size for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()))
                for p in index_dir.iterdir()}
        # proportionality: the changed share of the work, against the changed share of the corpus
        work_share = None
        if full["seconds"]:
            work_share = round(max(0.0, incr["seconds"] - noop["seconds"]) / full["seconds"], 4)
        per_doc_full = full["seconds"] / max(1, full["documents_added"])
        per_doc_incr = (incr["seconds"] - noop["seconds"]) / max(1, incr["documents_updated"])
        result = {
            "documents": n_docs,
            "seed": seed,
            "corpus": {"bytes": corpus_bytes, "mean_bytes_per_doc": round(corpus_bytes / max(1, n_docs)),
                       "generation_s": round(cg.wall, 2)},
            "chunking": {"chunk_tokens": settings.chunk_tokens, "overlap_sentences": settings.chunk_overlap_sentences,
                         "embed_batch_size": embedder.batch_size},
            "dense_factory": dense_factory,
            "full": full,
            "rerun_unchanged": noop,
            "incremental": {**incr, "changed_documents": len(changed), "changed_fraction": change_fraction,
                            "time_vs_full": round(incr["seconds"] / full["seconds"], 4) if full["seconds"] else None,
                            "time_minus_unchanged_rerun_vs_full": work_share,
                            "per_changed_doc_s": round(per_doc_incr, 4),
                            "per_doc_in_full_build_s": round(per_doc_full, 4)},
            "index_files_mib": disk,
            "target_chunks_per_s": TARGET_CHUNKS_PER_S,
            "target_met": (full.get("chunks_per_s") or 0) >= TARGET_CHUNKS_PER_S,
            "load_before": load_before,
        }
        if microbench:
            result["embedding_microbench"] = embed_microbench(embedder, corpus)
        result["load_after"] = system_load()
        if keep:
            result["work_dir"] = str(work)
        return result
    finally:
        if own and not keep:
            shutil.rmtree(work, ignore_errors=True)


def report(res: dict) -> str:
    from eval.bench.common import table

    rows = []
    for name, r in (("full build", res["full"]), ("re-run, nothing changed", res["rerun_unchanged"]),
                    (f"re-run, {res['incremental']['changed_documents']} docs changed", res["incremental"])):
        sp = r["split_s"]
        rows.append([name, r["seconds"], r["documents_added"] + r["documents_updated"], r["chunks_embedded"],
                     r["sentences_embedded"], r.get("documents_per_s"), r.get("chunks_per_s"), r.get("sentences_per_s"),
                     sp["embedding"], sp["sqlite_write"], sp["dense_update"], sp["read_clean_split_chunk"]])
    text = table(["run", "seconds", "docs", "chunks", "sentences", "docs/s", "chunks/s", "sent/s", "embed s",
                  "sqlite s", "faiss s", "read+split s"], rows,
                 f"INGEST  ({res['documents']} generated articles, {res['corpus']['mean_bytes_per_doc']} bytes each "
                 f"on average; dense {res['dense_factory']})")
    inc = res["incremental"]
    text += (f"\nembedding share of the full build: {res['full']['embedding_share']}; "
             f"target >= {res['target_chunks_per_s']:.0f} chunks/s: {'met' if res['target_met'] else 'NOT met'}"
             f"\nincremental: {inc['changed_documents']} of {res['documents']} docs changed "
             f"({inc['changed_fraction']:.0%}); time {inc['time_vs_full']:.2%} of the full build "
             f"({inc['time_minus_unchanged_rerun_vs_full']:.2%} without the fixed cost of the unchanged re-run, "
             f"{res['rerun_unchanged']['seconds']} s); per changed doc {inc['per_changed_doc_s']} s vs "
             f"{inc['per_doc_in_full_build_s']} s in the build")
    mb = res.get("embedding_microbench")
    if mb:
        text += "\n" + table(["batch size", "sentences/s", "chunks/s"],
                             [[b["batch_size"], b["sentences_per_s"], b["chunks_per_s"]] for b in mb["by_batch_size"]],
                             f"model throughput (sentences ~{mb['sentence_wordpieces_mean']} word pieces, "
                             f"chunks ~{mb['chunk_wordpieces_mean']})")
    return text

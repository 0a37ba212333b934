"""Query path, in-process: a full `engine.ask` next to its stages and a bare query embedding.

The stages are timed inside real `engine.ask` calls, by wrapping the components Engine.ask calls,
so the breakdown follows the code as it is (the retriever may change; the timing still adds up):
  embed     engine.embed_while(q, bm25 search)  (the QueryEncoder the service uses; the question's
            BM25 search runs meanwhile on the request thread, so its time is inside this one)
  dense     engine.index.search_dense(qvec, n)
  bm25      engine.index.search_bm25(q, n)       (only the feedback search is on the critical path;
            both are reported)
  fusion    the rest of engine.retriever.run: service.pipeline.fusion.rrf, store.chunks and whatever else the
            retriever does between and after the two searches (sub-rows: rrf, store reads)
  rerank    engine.reranker.run(q, qvec, hits)   (passages re-ordered by their best sentence)
  answer    engine.answerer.run(q, qvec, hits)
    read    (inside answer) the reader model: tokenising the passages, the batched ONNX call and
            span decoding, on the reader's model thread (engine.answerer.runner.read)
  passages  engine._passages(hits)               (answer + passages = answer composition)
  other     the rest of engine.ask (validation, the response object)
The bare cost is `engine.embedder.encode([q])`, the model alone. A plain, unwrapped engine.ask
gives the end-to-end figure. The stages also run once more with FAISS limited to one OpenMP
thread (faiss.omp_set_num_threads(1)), to show what that changes. The measurements of a question
run back to back in a shuffled order (seeded), so a busy moment of a shared machine hits them
alike and none always follows the same other one.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import random
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import faiss

import service.pipeline.retrieval as retrieval_mod
from eval.bench.common import ms_stats, ratio, system_load

STAGES = ("embed", "dense", "bm25", "fusion", "rerank", "answer", "passages", "other")
FUSION_PARTS = ("rrf", "store_reads")
TARGET_RATIO = 1.5  # the extractive answerer's target (ask vs bare embedding)
TARGET_P50_MS = 100.0  # the reader's target: ask p50 in-process, top 5, int8
_STORE_METHODS = ("chunks", "sentences_of", "sentences_in", "texts", "document", "document_text",
                  "document_frequencies", "chunk_ids_for")


class _Recorder:
    """Inclusive time per wrapped call, and time spent in store reads directly under the retriever."""

    def __init__(self):
        self.stack: list[str] = []
        self.acc: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn):
        def timed(*a, **kw):
            parent = self.stack[-1] if self.stack else None
            self.stack.append(name)
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                dt = time.perf_counter() - t0
                self.stack.pop()
                self.acc[name] += dt
                if name.startswith("store.") and parent == "retrieve":
                    self.acc["retrieve.store_reads"] += dt
                if name == "bm25" and parent == "retrieve":
                    self.acc["retrieve.bm25"] += dt

        return timed


@contextmanager
def instrumented(engine):
    """Wrap the components of engine.ask (instance attributes; removed again on exit)."""
    rec = _Recorder()
    targets = [(engine, "embed_while", "embed"), (engine.index, "search_dense", "dense"),
               (engine.index, "search_bm25", "bm25"), (engine.retriever, "run", "retrieve"),
               (engine.answerer, "run", "answer"), (engine, "_passages", "passages")]
    if engine.reranker is not None:
        targets.append((engine.reranker, "run", "rerank"))
    runner = getattr(engine.answerer, "runner", None)
    if runner is not None:
        targets.append((runner, "read", "read"))
    second = getattr(engine.answerer, "second", None)
    if second is not None:  # the second-stage reader: only the questions its gate sends it
        targets.append((second, "read", "read2"))
    targets += [(engine.index.store, m, f"store.{m}") for m in _STORE_METHODS if hasattr(engine.index.store, m)]
    patched = []
    for obj, attr, name in targets:
        had_own = attr in vars(obj)
        old = vars(obj).get(attr)
        setattr(obj, attr, rec.wrap(name, getattr(obj, attr)))
        patched.append((obj, attr, had_own, old))
    old_rrf = retrieval_mod.rrf
    retrieval_mod.rrf = rec.wrap("rrf", old_rrf)
    try:
        yield rec
    finally:
        retrieval_mod.rrf = old_rrf
        for obj, attr, had_own, old in reversed(patched):
            if had_own:
                setattr(obj, attr, old)
            else:
                delattr(obj, attr)


def staged_ask(engine, question: str, top_k: int = 5) -> tuple[dict[str, float], list[str]]:
    """One engine.ask with its stages timed; ({stage: seconds}, chunk ids of the passages)."""
    with instrumented(engine) as rec:
        t0 = time.perf_counter()
        resp = engine.ask(question, top_k=top_k)
        total = time.perf_counter() - t0
    a = rec.acc
    retrieve = a["retrieve"]
    times = {
        "embed": a["embed"],
        "dense": a["dense"],
        "bm25": a["bm25"],
        "fusion": max(0.0, retrieve - a["dense"] - a["retrieve.bm25"]),
        "rerank": a["rerank"],
        "answer": a["answer"],
        "read": a["read"],
        "read2": a["read2"],
        "passages": a["passages"],
    }
    times["other"] = max(0.0, total - a["embed"] - retrieve - a["rerank"] - a["answer"] - a["passages"])
    times["rrf"] = a["rrf"]
    times["store_reads"] = a["retrieve.store_reads"]
    times["total"] = total
    return times, [p.chunk_id for p in resp.passages]


def run(engine, questions: list[str], rounds: int = 3, warmup: int = 1, top_k: int = 5,
        profile_to: Path | None = None) -> dict:
    """Measure; `warmup` passes over the questions first (not counted)."""
    load_before = system_load()
    for _ in range(max(0, warmup)):
        for q in questions:
            engine.ask(q, top_k=top_k)
            engine.embedder.encode([q])

    e2e: list[float] = []
    bare: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    stages_1t: dict[str, list[float]] = defaultdict(list)
    mismatches = 0
    abstained = 0
    threads = faiss.omp_get_max_threads()
    order = random.Random(1234)
    t_start = time.perf_counter()
    for r in range(rounds):
        for q in questions:
            results: dict = {}
            steps = ["ask", "staged", "bare", "staged_1t"]
            order.shuffle(steps)  # a seeded shuffle: every step follows every other one equally often
            for step in steps:
                if step == "ask":
                    t0 = time.perf_counter()
                    resp = engine.ask(q, top_k=top_k)
                    e2e.append(time.perf_counter() - t0)
                    results["ask"] = [p.chunk_id for p in resp.passages]
                    abstained += bool(resp.abstained)
                elif step == "staged":
                    times, ids = staged_ask(engine, q, top_k)
                    for s, v in times.items():
                        stages[s].append(v)
                    results["staged"] = ids
                elif step == "staged_1t":  # the same with FAISS limited to one OpenMP thread
                    faiss.omp_set_num_threads(1)
                    try:
                        times, _ = staged_ask(engine, q, top_k)
                    finally:
                        faiss.omp_set_num_threads(threads)
                    for s, v in times.items():
                        stages_1t[s].append(v)
                else:
                    t0 = time.perf_counter()
                    engine.embedder.encode([q])
                    bare.append(time.perf_counter() - t0)
            mismatches += results["ask"] != results["staged"]
    wall = time.perf_counter() - t_start

    if profile_to is not None:
        prof = cProfile.Profile()
        prof.enable()
        for q in questions:
            engine.ask(q, top_k=top_k)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
        Path(profile_to).parent.mkdir(parents=True, exist_ok=True)
        Path(profile_to).write_text(buf.getvalue())

    e2e_s, bare_s = ms_stats(e2e), ms_stats(bare)
    stage_stats = {s: ms_stats(stages[s]) for s in (*STAGES, *FUSION_PARTS, "read")}
    reread = [v for v in stages["read2"] if v > 0]
    stage_stats["read2"] = ms_stats(reread)  # over the questions re-read only
    stage_stats["answer_composition"] = ms_stats([a + b for a, b in zip(stages["answer"], stages["passages"])])
    stage_stats["instrumented_total"] = ms_stats(stages["total"])
    one = {s: ms_stats(stages_1t[s]) for s in ("embed", "dense", "total")}
    counts = engine.index.store.counts()
    result = {
        # with a second-stage reader: the share of questions its gate sent it (stages.read2: their time)
        "reread_share": len(reread) / len(stages["read2"]) if stages["read2"] else 0.0,
        "index": {"dir": str(engine.index.dir), **counts, "dense_factory": engine.index.dense.factory},
        "questions": len(questions),
        "rounds": rounds,
        "warmup_passes": warmup,
        "top_k": top_k,
        "mode": engine.retriever.mode,
        "candidates": engine.retriever.candidates,
        "e2e_ask": e2e_s,
        "bare_embedding": bare_s,
        "stages": stage_stats,
        "faiss_one_thread": {
            "what": "engine.ask with faiss.omp_set_num_threads(1) in the calling thread (by default FAISS's "
                    "OpenMP threads wait for the cores that torch's just-finished OpenMP threads still spin on)",
            "omp_threads_default": threads,
            **{f"{s}": v for s, v in one.items()},
            "ratio_p50": ratio(one["total"]["p50_ms"], bare_s["p50_ms"]),
        },
        "ratio_p50": ratio(e2e_s["p50_ms"], bare_s["p50_ms"]),
        "ratio_mean": ratio(e2e_s["mean_ms"], bare_s["mean_ms"]),
        "ratio_p95": ratio(e2e_s["p95_ms"], bare_s["p95_ms"]),
        "answerer": getattr(engine.answerer, "name", "?"),
        "target_p50_ms": TARGET_P50_MS,
        "target_p50_met": e2e_s["p50_ms"] <= TARGET_P50_MS,
        "target_ratio": TARGET_RATIO,
        "target_met": (ratio(e2e_s["p50_ms"], bare_s["p50_ms"]) or 99) <= TARGET_RATIO,
        "instrumented_vs_plain_passage_mismatches": mismatches,
        "abstained": abstained,
        "wall_s": round(wall, 2),
        "load_before": load_before,
        "load_after": system_load(),
    }
    if profile_to is not None:
        result["profile_file"] = str(profile_to)
    return result


def report(res: dict) -> str:
    from eval.bench.common import table

    def row(label, st):
        return [label, st["p50_ms"], st["p95_ms"], st["mean_ms"]]

    st = res["stages"]
    rows = [row("ask (end to end)", res["e2e_ask"])]
    for s in STAGES:
        rows.append(row(f"  {s}", st[s]))
        if s == "fusion":
            rows += [row(f"    {p}", st[p]) for p in FUSION_PARTS]
        if s == "answer" and res.get("answerer") == "reader":
            rows.append(row("    read (reader model)", st["read"]))
            if res.get("reread_share"):
                rows.append(row(f"    second read, {res['reread_share']:.0%} of the questions (those only)",
                                st["read2"]))
    rows.append(row("  answer + passages (composition)", st["answer_composition"]))
    rows.append(row("  instrumented ask total", st["instrumented_total"]))
    rows.append(row("bare embedding encode([q])", res["bare_embedding"]))
    one = res["faiss_one_thread"]
    rows.append(row("ask, FAISS on 1 OpenMP thread", one["total"]))
    rows.append(row("  dense, FAISS on 1 OpenMP thread", one["dense"]))
    idx = res["index"]
    title = (f"QUERY PATH  ({res['questions']} questions x {res['rounds']} rounds; index {idx['documents']} docs, "
             f"{idx['chunks']} chunks, dense {idx['dense_factory']}; mode {res['mode']}, top_k {res['top_k']})")
    text = table(["stage", "p50 ms", "p95 ms", "mean ms"], rows, title)
    verdict = "met" if res["target_met"] else "NOT met"
    text += (f"\nratio end-to-end / bare embedding: p50 {res['ratio_p50']}  mean {res['ratio_mean']}  "
             f"p95 {res['ratio_p95']}  (target <= {res['target_ratio']} on p50: {verdict}); "
             f"with FAISS on one thread: p50 {one['ratio_p50']}")
    if res.get("answerer") == "reader":
        verdict = "met" if res["target_p50_met"] else "NOT met"
        text += f"\nreader: ask p50 {res['e2e_ask']['p50_ms']} ms (target <= {res['target_p50_ms']} ms: {verdict})"
    if res["instrumented_vs_plain_passage_mismatches"]:
        text += (f"\nwarning: the instrumented and the plain ask differed on "
                 f"{res['instrumented_vs_plain_passage_mismatches']} questions")
    return text

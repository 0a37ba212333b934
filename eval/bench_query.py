"""Query path, in-process: a full `engine.ask` next to its stages and a bare query embedding.

The stages are timed by calling the components the way `Engine.ask` does:
  embed    engine.embed(q)                        (the QueryEncoder the service uses)
  dense    engine.index.search_dense(qvec, n)
  bm25     engine.index.search_bm25(q, n)
  fusion   service.fusion.rrf(...) + store.chunks(...)  (hits, as Retriever.run builds them)
  answer   engine.answerer.run(q, qvec, hits)
  passages engine._passages(hits)                 (answer + passages = answer composition)
and the bare cost is `engine.embedder.encode([q])`, the model alone. The three measurements of a
question run back to back in a rotating order, so a busy moment of a shared machine hits all
three alike rather than one of them.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import time
from pathlib import Path

from eval.bench_common import ms_stats, ratio, system_load
from service.fusion import rrf
from service.retrieval import Hit

STAGES = ("embed", "dense", "bm25", "fusion", "answer", "passages")
TARGET_RATIO = 1.5


def staged_ask(engine, question: str, top_k: int = 5) -> tuple[dict[str, float], list[str]]:
    """Engine.ask step by step (no filters); returns ({stage: seconds}, chunk ids of the passages)."""
    q = question.strip()
    retriever = engine.retriever
    n = max(retriever.candidates, top_k)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    qvec = engine.embed(q)
    t1 = time.perf_counter()
    rankings = []
    if retriever.mode in ("hybrid", "dense"):
        rankings.append([i for i, _ in engine.index.search_dense(qvec, n, None)])
    t2 = time.perf_counter()
    if retriever.mode in ("hybrid", "bm25"):
        rankings.append([i for i, _ in engine.index.search_bm25(q, n, None)])
    t3 = time.perf_counter()
    fused = rrf(rankings, k=retriever.rrf_k)[:top_k]
    rows = engine.index.store.chunks(i for i, _ in fused)
    hits = [Hit(i, rows[i], s, r) for r, (i, s) in enumerate(fused) if i in rows]
    t4 = time.perf_counter()
    engine.answerer.run(q, qvec, hits)
    t5 = time.perf_counter()
    passages = engine._passages(hits)
    t6 = time.perf_counter()
    times.update(embed=t1 - t0, dense=t2 - t1, bm25=t3 - t2, fusion=t4 - t3, answer=t5 - t4, passages=t6 - t5)
    return times, [p.chunk_id for p in passages]


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
    staged_total: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    mismatches = 0
    abstained = 0
    t_start = time.perf_counter()
    for r in range(rounds):
        for i, q in enumerate(questions):
            results: dict = {}
            steps = ["ask", "staged", "bare"]
            k = (i + r) % 3
            for step in steps[k:] + steps[:k]:
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
                    staged_total.append(sum(times.values()))
                    results["staged"] = ids
                else:
                    t0 = time.perf_counter()
                    engine.embedder.encode([q])
                    bare.append(time.perf_counter() - t0)
            mismatches += results["ask"] != results["staged"]
    wall = time.perf_counter() - t_start

    profile_text = None
    if profile_to is not None:
        prof = cProfile.Profile()
        prof.enable()
        for q in questions:
            engine.ask(q, top_k=top_k)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
        profile_text = buf.getvalue()
        Path(profile_to).parent.mkdir(parents=True, exist_ok=True)
        Path(profile_to).write_text(profile_text)

    e2e_s, bare_s = ms_stats(e2e), ms_stats(bare)
    stage_stats = {s: ms_stats(v) for s, v in stages.items()}
    stage_stats["answer_composition"] = ms_stats([a + b for a, b in zip(stages["answer"], stages["passages"])])
    stage_stats["sum_of_stages"] = ms_stats(staged_total)
    counts = engine.index.store.counts()
    result = {
        "index": {"dir": str(engine.index.dir), **counts, "dense_factory": engine.index.dense.factory},
        "questions": len(questions),
        "rounds": rounds,
        "warmup_passes": warmup,
        "top_k": top_k,
        "mode": engine.retriever.mode,
        "e2e_ask": e2e_s,
        "bare_embedding": bare_s,
        "stages": stage_stats,
        "ratio_p50": ratio(e2e_s["p50_ms"], bare_s["p50_ms"]),
        "ratio_mean": ratio(e2e_s["mean_ms"], bare_s["mean_ms"]),
        "ratio_p95": ratio(e2e_s["p95_ms"], bare_s["p95_ms"]),
        "target_ratio": TARGET_RATIO,
        "target_met": (ratio(e2e_s["p50_ms"], bare_s["p50_ms"]) or 99) <= TARGET_RATIO,
        "staged_vs_ask_passage_mismatches": mismatches,
        "abstained": abstained,
        "wall_s": round(wall, 2),
        "load_before": load_before,
        "load_after": system_load(),
    }
    if profile_to is not None:
        result["profile_file"] = str(profile_to)
    return result


def report(res: dict) -> str:
    from eval.bench_common import table

    rows = [["ask (end to end)", res["e2e_ask"]["p50_ms"], res["e2e_ask"]["p95_ms"], res["e2e_ask"]["mean_ms"]]]
    for s in (*STAGES, "answer_composition", "sum_of_stages"):
        st = res["stages"][s]
        rows.append([f"  {s}", st["p50_ms"], st["p95_ms"], st["mean_ms"]])
    b = res["bare_embedding"]
    rows.append(["bare embedding encode([q])", b["p50_ms"], b["p95_ms"], b["mean_ms"]])
    idx = res["index"]
    title = (f"QUERY PATH  ({res['questions']} questions x {res['rounds']} rounds; index {idx['documents']} docs, "
             f"{idx['chunks']} chunks, dense {idx['dense_factory']}; mode {res['mode']}, top_k {res['top_k']})")
    text = table(["stage", "p50 ms", "p95 ms", "mean ms"], rows, title)
    verdict = "met" if res["target_met"] else "NOT met"
    text += (f"\nratio end-to-end / bare embedding: p50 {res['ratio_p50']}  mean {res['ratio_mean']}  "
             f"p95 {res['ratio_p95']}  (target <= {res['target_ratio']} on p50: {verdict})")
    if res["staged_vs_ask_passage_mismatches"]:
        text += f"\nwarning: staged run and ask differed on {res['staged_vs_ask_passage_mismatches']} questions"
    return text

"""Scoring the team's question set: one response into one row, a row at a threshold, rows into
metrics and failure categories. Plain functions over plain dicts (responses as AskResponse dicts);
`eval.harness` does the asking and `eval.report` the rendering."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval import metrics as M

KINDS = ("when", "who", "where", "how-many", "what", "why", "paraphrase", "multi-article", "unanswerable")
TYPED_KINDS = ("when", "who", "where", "how-many")  # kinds whose answer is a short typed span
MAX_ANSWER_WORDS = 60  # an answer longer than this does not count, even if it holds the answer
ABSTAIN_TEXT = "The articles do not say."  # service.answerers.base.ABSTAIN_TEXT (not imported: heavy)


# ---- scoring one response -------------------------------------------------------------------
def score_response(q: dict, resp: dict, wall_ms: float, top_k: int = 5) -> dict:
    """One question's row from its gold data and a response (AskResponse as a plain dict).
    Fields prefixed raw_ describe the response as it came; `at_threshold` derives the rest."""
    passages = resp.get("passages") or []
    pdocs = [p["doc_id"] for p in passages]
    ptexts = [p["text"] for p in passages]
    answerable = bool(q["answerable"])
    gold_docs, answers = q.get("doc_ids") or [], q.get("answers") or []
    k5 = min(5, top_k)
    row: dict[str, Any] = {
        "id": q["id"], "question": q["question"], "kind": q.get("kind"), "answerable": answerable,
        "gold_answers": answers, "gold_doc_ids": gold_docs,
        "passage_doc_ids": pdocs,
    }
    if answerable:
        rank = M.first_gold_rank(pdocs, gold_docs)
        row.update({"gold_rank": rank, "hit@1": M.hit_at_k(pdocs, gold_docs, 1), "hit@5": M.hit_at_k(pdocs, gold_docs, k5),
                    "rr": M.reciprocal_rank(pdocs, gold_docs),
                    # a question with several gold articles may list one evidence sentence per article
                    "evidence_hit@5": any(M.evidence_hit_at_k(ptexts, ev, k5)
                                          for ev in [q.get("evidence") or "", *q.get("evidence_also", [])])})
    else:
        row.update({"gold_rank": None, "hit@1": None, "hit@5": None, "rr": None, "evidence_hit@5": None})
    cits = [(c["doc_id"], c["quote"]) for c in resp.get("citations") or []]
    sup, tot = M.count_supporting(cits, gold_docs, answers) if answerable else (0, len(cits))
    timings = resp.get("timings_ms") or {}
    row.update({
        "confidence": float(resp.get("confidence") or 0.0),
        "raw_abstained": bool(resp.get("abstained")),
        "raw_answer": resp.get("answer") or "",
        "raw_short_answer": resp.get("short_answer"),
        "raw_citations": [{"doc_id": d, "quote": qt} for d, qt in cits],
        "raw_correct": answerable and M.answer_correct(resp.get("answer"), answers, bool(resp.get("abstained")),
                                                      MAX_ANSWER_WORDS),
        "raw_short_correct": answerable and not resp.get("abstained") and M.short_answer_correct(resp.get("short_answer"), answers),
        "raw_answer_words": M.word_count(resp.get("answer") or ""),
        "raw_citations_supporting": sup, "raw_citations_total": tot,
        "latency_ms": float(timings.get("total", 0.0)),
        "retrieve_ms": float(timings.get("retrieve", 0.0)),
        "answer_ms": float(timings.get("answer", 0.0)),
        "wall_ms": round(wall_ms, 3),
    })
    return row


def at_threshold(row: dict, threshold: float | None) -> dict:
    """The row as the service would have answered at `threshold` (None: as it came)."""
    r = dict(row)
    off = row["raw_abstained"] if threshold is None else M.abstains_at(row["confidence"], threshold, row["raw_abstained"])
    r["abstained"] = off
    if off and not row["raw_abstained"]:  # simulated abstention: the service says so and cites nothing
        r.update(answer=ABSTAIN_TEXT, short_answer=None, citations=[], answer_correct=False, short_correct=False,
                 citations_supporting=0, citations_total=0)
    else:
        r.update(answer=row["raw_answer"], short_answer=row["raw_short_answer"], citations=row["raw_citations"],
                 answer_correct=row["raw_correct"], short_correct=row["raw_short_correct"],
                 citations_supporting=row["raw_citations_supporting"], citations_total=row["raw_citations_total"])
    # one flag for every question: answered right, or (unanswerable) abstained
    r["correct"] = r["answer_correct"] if row["answerable"] else off
    return r


# ---- aggregation ----------------------------------------------------------------------------
def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def retrieval_metrics(rows: Sequence[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    return {
        "hit@1": _r(M.mean(r["hit@1"] for r in ans)),
        "hit@5": _r(M.mean(r["hit@5"] for r in ans)),
        "mrr": _r(M.mean(r["rr"] for r in ans)),
        "evidence_hit@5": _r(M.mean(r["evidence_hit@5"] for r in ans)),
    }


def aggregate(rows: Sequence[dict]) -> dict:
    """Every metric over `rows` (rows after `at_threshold`); None where it does not apply."""
    ans = [r for r in rows if r["answerable"]]
    typed = [r for r in ans if r["kind"] in TYPED_KINDS]
    out = {"n": len(rows), "n_answerable": len(ans), "n_unanswerable": len(rows) - len(ans)}
    out.update(retrieval_metrics(rows))
    out.update({
        "accuracy": _r(M.mean(r["answer_correct"] for r in ans)),
        "short_accuracy": _r(M.mean(r["short_correct"] for r in ans)),
        "short_accuracy_typed": _r(M.mean(r["short_correct"] for r in typed)),
        "citation_precision": _r(M.citation_precision((r["citations_supporting"], r["citations_total"]) for r in ans)),
        "citation_recall": _r(M.citation_recall((r["answer_correct"], r["citations_supporting"]) for r in ans)),
    })
    out.update({k: _r(v) for k, v in M.abstention_rates(rows).items()})
    out["overall_correct"] = _r(M.mean(r["correct"] for r in rows))
    lat, wall = [r["latency_ms"] for r in rows], [r["wall_ms"] for r in rows]
    out.update({"latency_p50_ms": _r(M.percentile(lat, 50), 1), "latency_p95_ms": _r(M.percentile(lat, 95), 1),
                "wall_p50_ms": _r(M.percentile(wall, 50), 1), "wall_p95_ms": _r(M.percentile(wall, 95), 1)})
    return out


def per_kind(rows: Sequence[dict]) -> dict[str, dict]:
    kinds = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    kinds += sorted({r["kind"] for r in rows} - set(kinds), key=str)
    return {k: aggregate([r for r in rows if r["kind"] == k]) for k in kinds}


def failure_category(r: dict) -> str | None:
    """Why a question failed (None if it did not)."""
    if not r["answerable"]:
        return None if r["abstained"] else "answered an unanswerable question"
    if r["answer_correct"]:
        return None
    if r["abstained"]:
        return "wrongly abstained"
    if r["raw_answer_words"] > MAX_ANSWER_WORDS and M.contains_variant(M.strip_markers(r["answer"]), r["gold_answers"]):
        return "answer too long"
    if not r["hit@5"]:
        return "wrong answer: no gold article retrieved"
    if not r["evidence_hit@5"]:
        return "wrong answer: evidence sentence not retrieved"
    return "wrong answer: evidence retrieved, another sentence quoted"


def failures(rows: Sequence[dict]) -> list[dict]:
    out = []
    for r in rows:
        cat = failure_category(r)
        if cat:
            out.append({"id": r["id"], "kind": r["kind"], "category": cat, "question": r["question"],
                        "expected": r["gold_answers"], "answer": r["answer"], "short_answer": r["short_answer"],
                        "best_answer": r["raw_answer"], "confidence": r["confidence"],
                        "gold_rank": r["gold_rank"]})
    return out

"""Regression guard: the harness in-process over the seed index must not fall below these floors.

The floors sit just under the values measured when they were set (one or two questions of slack);
raise them when the answerer improves. Latency is not guarded here (see `citeqa bench`).
"""
from __future__ import annotations

# measured 2026-12-01 with the learned reader (service/answerers/reader/model) at its calibrated threshold 0.252,
# fitted on held-out SQuAD training articles, never on these questions. hit@1 counts the answer's
# passages, the one it quotes listed first (retrieval's own order, /api/search, is held by MODE_FLOORS).
# The heuristic answerer fitted to this set measured 0.897 accuracy and 85 % abstained here.
FLOORS = {
    "hit@1": 0.86,  # measured 0.885
    "hit@5": 0.97,  # 1.000
    "mrr": 0.92,  # 0.942
    "evidence_hit@5": 0.97,  # 1.000
    "accuracy": 0.70,  # 0.731
    "short_accuracy": 0.66,  # 0.692
    "short_accuracy_typed": 0.88,  # 0.926
    "citation_precision": 0.90,  # 0.934
    "citation_recall": 0.97,  # 1.000
    "unanswerable_abstained": 0.45,  # 0.500
}
CEILINGS = {
    "answerable_wrongly_abstained": 0.26,  # measured 0.231 (lower is better)
}
# hybrid retrieval of the engine under test
MODE_FLOORS = {"hybrid": {"hit@1": 0.95, "hit@5": 0.97, "evidence_hit@5": 0.97}}


def test_fusion_beats_each_retriever_alone(eval_result):
    m = eval_result["modes"]
    for k in ("hit@1", "evidence_hit@5"):
        assert m["hybrid"][k] >= max(m["dense"][k], m["bm25"][k]), (k, m)
    # MRR: at least the dense retriever's, and BM25's less at most one question's drop from first to
    # second place. index/text/terms.py's lists of the seeds' capitals and demonyms lifted hybrid above
    # BM25 here (0.992 vs 0.979); without them (2026-12-01) it is 0.977 vs 0.979: hybrid ranks q049
    # better, q052 and q059 ("the American president … Seoul and Tokyo") worse. On dev6 the lists
    # changed nothing.
    n = sum(1 for q in eval_result["questions"] if q["answerable"])
    assert m["hybrid"]["mrr"] >= m["dense"]["mrr"], m
    assert m["hybrid"]["mrr"] >= m["bm25"]["mrr"] - (1 - 1 / 2) / n, m
    # strictly better unless already perfect (the int8 dense retriever alone also finds every evidence sentence)
    best_single = max(m["dense"]["evidence_hit@5"], m["bm25"]["evidence_hit@5"])
    assert m["hybrid"]["evidence_hit@5"] > best_single or m["hybrid"]["evidence_hit@5"] == 1.0


def test_headline_metrics_above_floors(eval_result):
    h = eval_result["headline"]
    low = {k: (h[k], floor) for k, floor in FLOORS.items() if h[k] is None or h[k] < floor}
    high = {k: (h[k], ceil) for k, ceil in CEILINGS.items() if h[k] is None or h[k] > ceil}
    assert not low and not high, f"below floor (value, floor): {low}; above ceiling (value, ceiling): {high}"


def test_retrieval_modes_above_floors(eval_result):
    modes = eval_result["modes"]
    assert set(modes) == {"hybrid", "dense", "bm25"}
    for mode, floors in MODE_FLOORS.items():
        for k, floor in floors.items():
            assert modes[mode][k] >= floor, (mode, k, modes[mode][k], floor)


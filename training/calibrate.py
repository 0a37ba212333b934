"""Fit the extractive (fallback) answerer's weights and abstention threshold on held-out SQuAD
*training* articles: the open setting of training/reader/fit.py (a corpus of the 24 articles the reader
never trained on, some answer sentences taken out of it; their answerable questions, the official
unanswerable ones and those whose answer was taken out), never on a set citeqa is measured on.

    python -m training.calibrate            # print what it would choose, with cross-validated estimates
    python -m training.calibrate --write    # and write service/answerers/extractive/calibration.json

Three steps, all on plain numbers gathered once per question (one retrieval, one scoring pass):
1. sentence weights: a grid over the weights of the sentence score (coverage, answer-type fit,
   retrieval prior, heading penalty; the semantic similarity has weight 1), keeping the one whose
   fitted confidence and threshold (steps 2 and 3) handle the most questions right: answerable
   ones answered with a gold answer, unanswerable ones abstained;
2. confidence: an L2-regularised logistic regression of "the picked sentence answers the
   question" on the confidence features (ExtractiveAnswerer.features), fitted with Newton steps
   in numpy (scikit-learn is not a dependency for one small fit);
3. threshold: the best class-balanced score (the mean of "answerable answered right" and
   "unanswerable abstained") with at most 15 % of the answerable ones abstained (ties: the lowest
   threshold): the learned reader's rule (training/reader/fit.py), so both answerers abstain alike.
The same fit is run under 10-fold cross-validation by article, and those held-out figures are
printed too. (Until 2026-12-01 this fitted on the team's 98 questions, the set it was then measured
on: 89.7 % there, 41.7 % on 16 questions written later.)
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path

import numpy as np

from index.stores.manifest import write_json_atomic
from service.answerers.extractive.answerer import CALIBRATION_PATH, ExtractiveAnswerer
from training.logistic import choose, fit_logistic, predict

GRID = {
    "cov": [0.6, 0.9, 1.2],
    "fit": [0.1, 0.2, 0.3, 0.45],
    "prior": [0.0, 0.05, 0.1],
    "heading": [0.1, 0.3],
}
MAX_WRONG_ABSTAIN = 0.15  # as training/reader/fit.py's --max-false-abstain


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def gather(engine, questions: list[dict]) -> list[dict]:
    """Per question: every candidate sentence's score inputs, the fused ranks of the passages that
    hold it, its confidence features and gold flag. Gathered before the reranker, which pick()
    replays for each weight setting (its order depends on the weights being chosen)."""
    answerer: ExtractiveAnswerer = engine.answerer
    out = []
    for q in questions:
        qvec = engine.embed(q["question"])
        hits = engine.retriever.run(q["question"], qvec, 5, None)
        scored, info = answerer.score(q["question"], qvec, hits)
        ranks: dict[tuple[str, int], list[int]] = {}  # every passage holding a sentence (overlap)
        for h in hits:
            for r in h.sentences:
                ranks.setdefault((r.doc_id, r.start), []).append(h.rank)
        cands = []
        for s in scored:
            text = _norm(s.text + " " + (s.prev.text if s.prev else ""))
            good = bool(q["answerable"]) and any(_norm(a) in text for a in q["answers"])
            cands.append({"terms": answerer.score_terms(s), "features": answerer.features(s, info), "good": good,
                          "ranks": ranks[(s.row.doc_id, s.row.start)]})
        out.append({"q": q, "cands": cands})
    return out


def pick(data: list[dict], w: dict, rerank_prior: float | None = None) -> list[dict | None]:
    """The sentence the answerer would pick under weights `w`, after the reranker (if on) has
    re-ordered the passages by their best sentence (service/pipeline/reranking.py)."""
    picked = []
    for d in data:
        if not d["cands"]:
            picked.append(None)
            continue

        def scores(rank_of) -> list[float]:
            return [c["terms"]["sem"] + sum(w[k] * c["terms"][k] for k in w if k != "prior")
                    + w.get("prior", 0.0) / (min(rank_of(r) for r in c["ranks"]) + 1) for c in d["cands"]]

        first = scores(lambda r: r)
        if rerank_prior is None:
            final = first
        else:
            n = 1 + max(r for c in d["cands"] for r in c["ranks"])
            best = [max((sc for c, sc in zip(d["cands"], first) if p in c["ranks"]), default=-1.0) for p in range(n)]
            order = sorted(range(n), key=lambda p: (-(best[p] + rerank_prior / (p + 1)), p))
            new_rank = {p: i for i, p in enumerate(order)}
            final = scores(lambda r: new_rank[r])
        picked.append(d["cands"][int(np.argmax(final))])
    return picked


def sweep(conf: np.ndarray, answerable: np.ndarray, correct: np.ndarray) -> list[dict]:
    rows = []
    for t in np.round(np.arange(0.05, 0.96, 0.05), 2):
        abstain = conf < t
        rows.append({
            "threshold": float(t),
            "unanswerable_abstained": float(abstain[~answerable].mean()) if (~answerable).any() else 0.0,
            "answerable_abstained": float(abstain[answerable].mean()) if answerable.any() else 0.0,
            "accuracy": float((correct & ~abstain)[answerable].mean()) if answerable.any() else 0.0,
        })
    return rows


def balanced(row: dict) -> float:
    return 0.5 * row["accuracy"] + 0.5 * row["unanswerable_abstained"]


def choose_threshold(rows: list[dict], conf: np.ndarray, answerable: np.ndarray, correct: np.ndarray) -> dict:
    """The row of `sweep(conf, answerable, correct)` that `choose` picks on the sweep's grid."""
    t = choose(conf, answerable, correct, MAX_WRONG_ABSTAIN, [r["threshold"] for r in rows], rows[0]["threshold"])
    return next(r for r in rows if r["threshold"] == t)


def calibrate(engine, questions: list[dict], l2: float = 0.1, folds: int = 10, seed: int = 0) -> dict:
    data = gather(engine, questions)
    rerank_prior = engine.reranker.prior if engine.reranker else None
    answerable = np.array([bool(d["q"]["answerable"]) for d in data])
    keys = list(ExtractiveAnswerer.CONF_COEF)

    def fit(w: dict) -> tuple:
        picked = pick(data, w, rerank_prior)
        x = np.array([[c["features"][k] for k in keys] if c else [0.0] * len(keys) for c in picked])
        y = np.array([bool(c and c["good"]) for c in picked])
        bias, coef = fit_logistic(x, y.astype(float), l2)
        conf = predict(bias, coef, x)
        rows = sweep(conf, answerable, y)
        chosen = choose_threshold(rows, conf, answerable, y)
        # the goal: the best balanced score at the chosen threshold; on a tie, the more honest one
        # (more unanswerable questions abstained), then the better picker
        goal = (round(balanced(chosen), 6), chosen["unanswerable_abstained"], int(y.sum()))
        return goal, x, y, bias, coef, rows, chosen

    best = None
    for values in itertools.product(*GRID.values()):
        w = dict(zip(GRID, values))
        result = fit(w)
        if best is None or result[0] > best[1][0]:
            best = (w, result)
    best_w, (_, x, y, bias, coef, rows, chosen) = best
    best_acc = int(y.sum())

    # held-out estimate: the logistic fit and the threshold choice redone without each fold
    # folds by article: a fold's test questions come from articles its fit never saw
    articles = sorted({d["q"]["article"] for d in data})
    rng = np.random.default_rng(seed)
    fold_of = {a: i % folds for i, a in enumerate(rng.permutation(articles))}
    fold = np.array([fold_of[d["q"]["article"]] for d in data])
    held = np.zeros(len(data))
    held_t = np.zeros(len(data))
    for f in range(folds):
        test, train = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        if not len(test):
            continue
        b, c = fit_logistic(x[train], y[train].astype(float), l2)
        conf = predict(b, c, x[train])
        t = choose_threshold(sweep(conf, answerable[train], y[train]), conf, answerable[train], y[train])["threshold"]
        held[test] = predict(b, c, x[test])
        held_t[test] = t
    abstain_cv = held < held_t
    cv = {
        "unanswerable_abstained": float(abstain_cv[~answerable].mean()),
        "answerable_abstained": float(abstain_cv[answerable].mean()),
        "accuracy": float((y & ~abstain_cv)[answerable].mean()),
    }
    return {
        "sentence_weights": best_w,
        "picked_accuracy": best_acc / max(int(answerable.sum()), 1),
        "confidence": {"bias": round(bias, 4), "coef": {k: round(float(v), 4) for k, v in zip(keys, coef)}},
        "threshold": chosen["threshold"],
        "at_threshold": chosen,
        "cross_validated": cv,
        "sweep": rows,
        "questions": len(data),
    }


def heldout_questions() -> tuple[list[dict], list[dict]]:
    """The corpus and questions of training/reader/fit.py's open setting, from the training articles
    `citeqa train-reader` keeps out (the split is seeded: no file from a training run is needed)."""
    from training.reader import fit as fr
    from training.reader import data as reader_data
    from training.reader.train import DEFAULT_TRAIN, HELDOUT_ARTICLES, SPLIT_SEED

    _, held = reader_data.split_articles(reader_data.load_squad(DEFAULT_TRAIN), HELDOUT_ARTICLES, SPLIT_SEED)
    return fr.open_set(fr.open_articles(held, fr.OPEN_ARTICLES), fr.OPEN_ANSWERABLE, fr.OPEN_REMOVED, fr.SEED)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    from eval import squad
    from service.engine import Engine
    from service.config import Settings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION_PATH.name}")
    ap.add_argument("--l2", type=float, default=0.1)
    args = ap.parse_args(argv)
    corpus, questions = heldout_questions()
    with tempfile.TemporaryDirectory() as tmp:
        squad.write_corpus(corpus, Path(tmp) / "corpus")
        settings = Settings(index_dir=Path(tmp) / "index", seeds_dir=Path(tmp) / "corpus", answerer="extractive",
                            abstain_threshold=0.0)
        engine = Engine.load(settings, ingest_if_needed=True)
        try:
            result = calibrate(engine, questions, l2=args.l2)
        finally:
            engine.close()
    print(json.dumps({k: v for k, v in result.items() if k != "sweep"}, indent=2))
    if args.write:
        payload = {k: result[k] for k in ("sentence_weights", "confidence", "threshold")}
        payload["fitted_on"] = {"questions": result["questions"],
                                "source": "held-out SQuAD training articles (training/reader/fit.py's open setting)",
                                "at_threshold": result["at_threshold"], "cross_validated": result["cross_validated"]}
        write_json_atomic(CALIBRATION_PATH, payload)
        print(f"wrote {CALIBRATION_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

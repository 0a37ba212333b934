"""Fit the second stage's gate (service/answerers/reader/gate.py) on held-out training articles.

Input: rows of the open setting in which the second stage re-read every question
(`training/reader/fit.py --first`, CITEQA_READER_GATE=false), each with the first stage's span
features (`margin1`, `score1`, `null1`, `dense1`) and what it alone answered (`first_answer`), and
the second stage's features and outcome. Fitted: the first stage's p1 (a logistic fit, like the
reader's calibration), the second stage's p2 (its features and the first stage's margin), and the
band [low, high) of p1 that is re-read with the threshold on p2, for the best class-balanced score
with at most `max_false_abstain` of the answerable questions abstained and at most `budget` of the
questions re-read (the second stage costs about twice the first: re-reading fewer than half keeps
the median question at the first stage's latency). Cross-validated by article. Pure but for numpy.
"""
from __future__ import annotations

import numpy as np

from eval import squad_metrics as sm
from training.logistic import fit_logistic, folds_by_article, predict

FIRST_FEATURES = ["margin1", "score1", "null1", "dense1"]
SECOND_FEATURES = ["margin", "score", "null", "dense", "margin1"]
MISSING = {"margin": -1e3, "margin1": -1e3}  # no span at all: as far below "no answer" as it gets


def standardised_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.1) -> tuple[float, np.ndarray]:
    """fit_logistic on standardised columns, folded back to raw-feature weights."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    b, coef = fit_logistic((x - mu) / sd, y.astype(float), l2=l2)
    w = coef / sd
    return b - float(w @ mu), w


def matrix(rows: list[dict], features: list[str]) -> np.ndarray:
    return np.array([[float(r[f]) if r.get(f) is not None else MISSING.get(f, 0.0) for f in features]
                     for r in rows])


def first_right(row: dict) -> bool:
    """Whether the first stage alone answered right (its answer holds a gold one, as `contains`)."""
    return bool(row["answerable"]) and sm.contains(row.get("first_answer"), row.get("golds") or [])


def outcomes(p1, p2, right1, right2, answerable, low, high, t2) -> dict:
    """What the gate does to these questions: answered when p1 >= high (the first stage's span) or
    p1 in [low, high) and p2 >= t2 (the second's)."""
    band = (p1 >= low) & (p1 < high)
    answered = (p1 >= high) | (band & (p2 >= t2))
    right = np.where(band, right2, right1) & answered
    return {"answered_right": float(right[answerable].mean()), "noans": float((~answered)[~answerable].mean()),
            "false_abstain": float((~answered)[answerable].mean()),
            "overall_balanced": 0.5 * float(right[answerable].mean()) + 0.5 * float((~answered)[~answerable].mean()),
            "reread": float(band.mean())}


def search(p1, p2, right1, right2, answerable, max_false_abstain: float, budget: float,
           grid: int = 41) -> tuple[float, float, float]:
    """(low, high, t2) with the best balanced score under both limits; low = high (nothing re-read, the
    first stage alone at threshold high) is a candidate, so the gate never does worse in-sample."""
    cuts = np.unique(np.quantile(p1, np.linspace(0, 1, grid)))
    cuts = np.append(cuts, 1.0 + 1e-9)  # high above every p1: nothing answered from the first stage alone
    t2s = np.unique(np.quantile(p2, np.linspace(0, 1, 101)))
    ans = answerable[None, :]
    n_ans, n_un = max(int(answerable.sum()), 1), max(int((~answerable).sum()), 1)
    best, found = -1.0, (float(cuts[0]), float(cuts[0]), 0.5)
    for i, low in enumerate(cuts):
        for high in cuts[i:]:
            band = (p1 >= low) & (p1 < high)
            if band.mean() > budget:
                break  # a wider band only re-reads more
            answered = (p1 >= high)[None, :] | (band[None, :] & (p2[None, :] >= t2s[:, None]))
            right = answered & np.where(band, right2, right1)[None, :]
            fa = (~answered & ans).sum(axis=1) / n_ans
            score = 0.5 * (right & ans).sum(axis=1) / n_ans + 0.5 * (~answered & ~ans).sum(axis=1) / n_un
            # among equal scores (to 1e-9) the one re-reading least
            score = np.where(fa <= max_false_abstain, np.round(score, 9) - 1e-12 * band.mean(), -1.0)
            k = int(np.argmax(score))
            if score[k] > best:
                best, found = float(score[k]), (float(low), float(high), float(t2s[k]))
    return found


def fit_gate(rows: list[dict], max_false_abstain: float = 0.15, budget: float = 0.4, folds: int = 5,
             seed: int = 0) -> dict:
    """The open_second entry of a second-stage reader's calibration.json: its own logistic fit and
    threshold, the gate (p1's fit and band), and 5-fold cross-validated outcomes by article."""
    x1, x2 = matrix(rows, FIRST_FEATURES), matrix(rows, SECOND_FEATURES)
    answerable = np.array([bool(r["answerable"]) for r in rows])
    right1 = np.array([first_right(r) for r in rows])
    right2 = np.array([bool(r["right"]) for r in rows])

    def one(idx):
        b1, w1 = standardised_logistic(x1[idx], right1[idx])
        b2, w2 = standardised_logistic(x2[idx], right2[idx])
        low, high, t2 = search(predict(b1, w1, x1[idx]), predict(b2, w2, x2[idx]), right1[idx], right2[idx],
                               answerable[idx], max_false_abstain, budget)
        return (b1, w1), (b2, w2), (low, high, t2)

    everything = np.ones(len(rows), dtype=bool)
    (b1, w1), (b2, w2), (low, high, t2) = one(everything)
    p1, p2 = predict(b1, w1, x1), predict(b2, w2, x2)
    cv = []
    for train, test in folds_by_article([r["article"] for r in rows], answerable, folds, seed):
        (c1, v1), (c2, v2), band = one(train)
        cv.append(outcomes(predict(c1, v1, x1[test]), predict(c2, v2, x2[test]), right1[test], right2[test],
                           answerable[test], *band))
    return {"weights": dict(zip([f for f in SECOND_FEATURES], map(float, w2))), "b": float(b2), "threshold": t2,
            "gate": {"weights": dict(zip([f[:-1] for f in FIRST_FEATURES], map(float, w1))), "b": float(b1),
                     "low": low, "high": high, "budget": budget},
            "fitted_on": len(rows), "answerable": int(answerable.sum()), "unanswerable": int((~answerable).sum()),
            "in_sample": outcomes(p1, p2, right1, right2, answerable, low, high, t2),
            "cv": {k: float(np.mean([c[k] for c in cv])) for k in cv[0]} if cv else None,
            "first_alone_in_sample_right": float(right1[answerable].mean()),
            "second_always_in_sample_right": float(right2[answerable].mean())}

"""The calibration kernel both answerers are fitted with: an L2-regularised logistic model and the
threshold rule (the best class-balanced score with few answerable questions abstained). Imported by
training/reader/fit.py (the reader) and training/calibrate.py (the fallback); imports neither."""
from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.1, steps: int = 50) -> tuple[float, np.ndarray]:
    """L2-regularised logistic regression by Newton's method; returns (bias, coefficients)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[0, 0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ beta))
        grad = xb.T @ (p - y) + reg @ beta
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + reg
        beta -= np.linalg.solve(hess, grad)
    return float(beta[0]), beta[1:]


def folds_by_article(articles: Sequence[str], answerable: np.ndarray, folds: int = 5, seed: int = 0):
    """(train, test) masks of cross-validation by article (a fit never sees its test fold's articles),
    skipping a fold without both answerable and unanswerable questions."""
    names = sorted(set(articles))
    random.Random(seed).shuffle(names)
    fold_of = {a: i % folds for i, a in enumerate(names)}
    fold = np.array([fold_of[a] for a in articles])
    for k in range(folds):
        train, test = fold != k, fold == k
        if answerable[test].any() and (~answerable[test]).any():
            yield train, test


def predict(bias: float, coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(bias + x @ coef)))


def choose(p: np.ndarray, answerable: np.ndarray, right: np.ndarray, max_false_abstain: float,
           thresholds: Sequence[float] | None = None, default: float = 0.0) -> float:
    """The threshold with the best balanced score (answer when p >= t; ties: the lowest) among those
    that abstain on at most `max_false_abstain` of the answerable questions; `default` when none
    does. Candidates: `thresholds`, else every value of p to 3 decimals. The rule of both the
    reader (training/reader/fit.py) and the fallback (training/calibrate.py), so both abstain alike."""
    best_t, best = default, -1.0
    for t in (np.unique(np.round(p, 3)) if thresholds is None else thresholds):
        answered = p >= t
        fa = float((~answered)[answerable].mean()) if answerable.any() else 0.0
        if fa > max_false_abstain:
            continue
        score = 0.5 * float((right & answered)[answerable].mean()) + 0.5 * float((~answered)[~answerable].mean())
        score = round(score, 9)  # scores equal but for float rounding tie (the lowest t wins)
        if score > best:
            best_t, best = float(t), score
    return best_t

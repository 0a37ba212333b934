"""Reciprocal rank fusion (Cormack et al., 2009): pure function over ranked id lists."""
from __future__ import annotations

from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Fuse ranked lists of ids; returns (id, score) best first, ties broken by first appearance."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    order: dict[int, int] = {}
    for ranking, w in zip(rankings, weights):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
            order.setdefault(item, len(order))
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))

"""Which questions a second-stage reader re-reads: pure.

The 12-layer second stage costs about twice the first stage's time, so it reads only the questions
the first stage is unsure of. `p1` is the probability that the first stage's best span is right (a
logistic fit over its span features, like ReaderCalibration); below `low` the question is
abstained on, at or above `high` the first stage's span is the answer, and in between the second
stage re-reads the best passages and decides with its own fit. The band and the fit come from
held-out training articles (training/reader/gate.py), with at most `budget` of them in the band.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.answerers.reader.decode import logistic

Route = Literal["abstain", "reread", "answer"]


@dataclass(frozen=True)
class Gate:
    weights: tuple[tuple[str, float], ...]
    b: float
    low: float
    high: float

    @classmethod
    def from_dict(cls, d: dict | None) -> "Gate | None":
        """None (every question re-read) when the two-stage fit has no gate."""
        if not d or "low" not in d or "high" not in d:
            return None
        return cls(tuple((k, float(v)) for k, v in (d.get("weights") or {}).items()), float(d.get("b", 0.0)),
                   float(d["low"]), float(d["high"]))

    def probability(self, features: dict[str, float]) -> float:
        return logistic(self.weights, self.b, features)

    def route(self, p1: float) -> Route:
        if p1 < self.low:
            return "abstain"
        return "answer" if p1 >= self.high else "reread"

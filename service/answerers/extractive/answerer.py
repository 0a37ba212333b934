"""The default answerer: picks the sentence(s) of the retrieved passages that answer the question
and quotes them verbatim, so an answer can never state what the articles do not.

Each candidate sentence is scored from signals that cost no model call (sentence vectors were
computed at ingest; the query vector is already there):
  - sem: cosine of the question and the sentence;
  - cov: the share of the question's content words (IDF-weighted) that the sentence contains;
  - fit: whether the sentence holds a span of the answer type the question asks for (a date for
    "when", a number for "how many", a person or office for "who", a place for "where") that
    the question does not already name;
  - prior: how high retrieval ranked the passage.
The confidence that the best sentence answers the question combines the same signals; below the
threshold (calibrated on the eval set: see eval/README and `citeqa eval`) the answerer abstains.
"""
from __future__ import annotations

import math

import numpy as np

from index.stores.base import Store
from index.text.terms import terms
from service.answerers.base import ABSTAIN_TEXT, Answer, Answerer
from service.answerers.citations import Quote, compose
from service.answerers.extractive.answer_types import pick_short_answer
from service.answerers.extractive.question_types import TYPED, WHY
from service.answerers.extractive.scoring import (CALIBRATION_PATH, Scored, analyse, load_calibration, owners,
                                                  score_terms, sentence_scores, weighted)
from service.pipeline.retrieval import Hit

__all__ = ["CALIBRATION_PATH", "ExtractiveAnswerer", "load_calibration"]


class ExtractiveAnswerer(Answerer):
    name = "extractive"

    # The order of the confidence features; their values come from calibration.json.
    CONF_COEF = dict.fromkeys(("sem", "cov", "missing_type", "not_specific", "absent_focus"), 0.0)

    def __init__(self, store: Store, abstain_threshold: float | None = None, max_answer_words: int = 60,
                 calibration: dict | None = None):
        cal = calibration or load_calibration()
        self.store = store
        self.weights = {k: float(v) for k, v in cal["sentence_weights"].items()}
        self.conf_bias = float(cal["confidence"]["bias"])
        self.conf_coef = {k: float(cal["confidence"]["coef"][k]) for k in self.CONF_COEF}
        self.threshold = float(cal["threshold"]) if abstain_threshold is None else abstain_threshold
        self.max_words = max_answer_words

    score_terms = staticmethod(score_terms)

    def _weighted(self, s: Scored, rank: int) -> float:
        return weighted(s, rank, self.weights)

    def _analyse(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> tuple[list[Scored], dict]:
        return analyse(question, qvec, hits, self.store)

    def sentence_scores(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> dict[tuple[str, int], float]:
        return sentence_scores(question, qvec, hits, self.store, self.weights)

    # ---- scoring ------------------------------------------------------------------------------
    def score(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> tuple[list[Scored], dict]:
        """The candidate sentences of `hits`, best first, each placed in its passage (`_owners`),
        whose rank gives its prior."""
        sentences, info = self._analyse(question, qvec, hits)
        owner = owners(hits)
        scored: list[Scored] = []
        for i, a in enumerate(sentences):
            hit = owner[(a.row.doc_id, a.row.start)]
            item = Scored(a.row, hit, a.text, a.sem, a.cov, a.fit, self._weighted(a, hit.rank), a.heading,
                          scored[i - 1] if a.prev is not None else None, a.specific)
            scored.append(item)
        return sorted(scored, key=lambda x: -x.score), info

    @staticmethod
    def features(best: Scored, info: dict) -> dict[str, float]:
        typed = info["qtype"] in TYPED or info["qtype"] == WHY or info.get("entity", False)
        return {
            "sem": best.sem,
            "cov": best.cov,
            "missing_type": float(typed and not best.fit),
            "not_specific": float(not best.specific),
            "absent_focus": float(info.get("absent_focus", False)),
        }

    def confidence(self, best: Scored, info: dict) -> float:
        """P(the best sentence answers the question): a logistic model fitted by training.calibrate."""
        f = self.features(best, info)
        z = self.conf_bias + sum(self.conf_coef[k] * v for k, v in f.items())
        return 1.0 / (1.0 + math.exp(-z))

    # ---- answer -------------------------------------------------------------------------------
    def run(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> Answer:
        scored, info = self.score(question, qvec, hits)
        if not scored:
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [], {"reason": "no passages"})
        qtype = info["qtype"]
        best = scored[0]
        conf = self.confidence(best, info)
        debug = {"qtype": qtype, "sem": best.sem, "cov": best.cov, "fit": best.fit, "confidence": conf}
        if conf < self.threshold:
            return Answer(ABSTAIN_TEXT, None, True, conf, [], debug)

        picked = [best]
        if best.prev is not None:  # a sentence that leans on the previous one is quoted with it
            picked.insert(0, best.prev)
        # A typed question whose best sentence lacks the type: a runner-up that has it joins.
        if qtype in TYPED and not best.fit:
            runner = next((s for s in scored[1:4] if s.fit and s.sem > best.sem - 0.1), None)
            if runner:
                picked.append(runner)
        while len(picked) > 1 and sum(len(s.text.split()) for s in picked) > self.max_words:
            picked.pop(0 if picked[0] is not best else -1)

        short = None
        for s in picked:
            span = (pick_short_answer(qtype, s.text, question, info["qterms"], terms, info["focus"], info["sub"])
                    if qtype in TYPED else None)
            if span:
                short = span.text
                break
        quotes = [self._quote(s) for s in picked]
        text, citations = compose(quotes)
        return Answer(text, short, False, conf, citations, debug)

    @staticmethod
    def _quote(s: Scored) -> Quote:
        return Quote(doc_id=s.row.doc_id, title=s.hit.title, date=s.hit.date,
                     chunk_id=s.hit.chunk.chunk_id, start=s.row.start, end=s.row.end, text=s.text, score=s.score)

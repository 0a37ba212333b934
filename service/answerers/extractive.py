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
import re
from dataclasses import dataclass

import numpy as np

from index.store import SentenceRow, Store
from index.terms import terms
from service.answer_types import TYPED, WHY, novel_spans, pick_short_answer, question_type
from service.answerers.base import ABSTAIN_TEXT, Answer, Answerer
from service.citations import Quote, compose
from service.retrieval import Hit

# Sentences that lean on the one before ("They also …", "This summit …") are quoted with it.
_LEANS_BACK = re.compile(r"^(?:they|he|she|it|this|these|those|the two|both|but|however|also|meanwhile)\b", re.I)
_CAUSAL = re.compile(r"\b(?:because|due to|in order to|so that|aimed at|amid|to (?:counter|respond|deter|address|"
                     r"better|strengthen|bolster|discuss|tackle|urge)|as (?:both|the)|in response to|purpose)\b", re.I)


@dataclass
class Scored:
    row: SentenceRow
    hit: Hit
    text: str
    sem: float
    cov: float
    fit: float
    score: float


def _idf(df: int, n: int) -> float:
    return math.log((n + 1) / (df + 0.5)) + 1.0


class ExtractiveAnswerer(Answerer):
    name = "extractive"

    # weights of the sentence score and the confidence; chosen on the eval set (citeqa eval)
    W_SEM, W_COV, W_FIT, W_PRIOR = 1.0, 0.6, 0.25, 0.1

    def __init__(self, store: Store, abstain_threshold: float = 0.5, max_answer_words: int = 60):
        self.store = store
        self.threshold = abstain_threshold
        self.max_words = max_answer_words

    # ---- scoring ------------------------------------------------------------------------------
    def score(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> tuple[list[Scored], dict]:
        qtype = question_type(question)
        qterms = set(terms(question))
        df, n = self.store.document_frequencies(qterms)
        weights = {t: _idf(df.get(t, 0), n) for t in qterms}
        total = sum(weights.values()) or 1.0

        rows = self.store.sentences_in([(h.chunk.doc_id, h.chunk.start, h.chunk.end) for h in hits])
        texts = self.store.texts(h.chunk.doc_id for h in hits)
        best_hit: dict[tuple[str, int], Hit] = {}
        for h in hits:  # a sentence in several passages belongs to the best-ranked one
            for r in rows:
                if r.doc_id == h.chunk.doc_id and h.chunk.start <= r.start and r.end <= h.chunk.end:
                    best_hit.setdefault((r.doc_id, r.start), h)
        if not rows:
            return [], {"qtype": qtype, "qterms": qterms}
        sims = np.stack([r.vector for r in rows]) @ qvec.reshape(-1)
        scored = []
        for r, sem in zip(rows, sims):
            text = texts[r.doc_id][r.start : r.end]
            cov = sum(weights[t] for t in qterms & r.terms) / total
            if qtype in TYPED:
                fit = 1.0 if novel_spans(qtype, text, question) else 0.0
            elif qtype == WHY:
                fit = 1.0 if _CAUSAL.search(text) else 0.0
            else:
                fit = 0.5
            hit = best_hit[(r.doc_id, r.start)]
            prior = 1.0 / (hit.rank + 1)
            s = self.W_SEM * float(sem) + self.W_COV * cov + self.W_FIT * fit + self.W_PRIOR * prior
            scored.append(Scored(r, hit, text, float(sem), cov, fit, s))
        scored.sort(key=lambda x: -x.score)
        return scored, {"qtype": qtype, "qterms": qterms, "weights": weights}

    def confidence(self, best: Scored, qtype: str) -> float:
        """P(the best sentence answers the question), a logistic of the signals."""
        z = -6.0 + 7.0 * best.sem + 4.0 * best.cov
        if qtype in TYPED or qtype == WHY:
            z += 1.5 if best.fit else -2.5
        return 1.0 / (1.0 + math.exp(-z))

    # ---- answer -------------------------------------------------------------------------------
    def run(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> Answer:
        scored, info = self.score(question, qvec, hits)
        if not scored:
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [], {"reason": "no passages"})
        qtype = info["qtype"]
        best = scored[0]
        conf = self.confidence(best, qtype)
        debug = {"qtype": qtype, "sem": best.sem, "cov": best.cov, "fit": best.fit, "confidence": conf}
        if conf < self.threshold:
            return Answer(ABSTAIN_TEXT, None, True, conf, [], debug)

        picked = [best]
        # A sentence that leans on the previous one is quoted with it, when that one is at hand.
        if _LEANS_BACK.match(best.text):
            prev = [s for s in scored if s.row.doc_id == best.row.doc_id and s.row.end < best.row.start
                    and best.text and self._adjacent(s, best)]
            if prev:
                picked.insert(0, prev[0])
        # A typed question whose best sentence lacks the type: a runner-up that has it joins.
        if qtype in TYPED and not best.fit:
            runner = next((s for s in scored[1:4] if s.fit and s.sem > best.sem - 0.1), None)
            if runner:
                picked.append(runner)
        while len(picked) > 1 and sum(len(s.text.split()) for s in picked) > self.max_words:
            picked.pop(0 if picked[0] is not best else -1)

        short = None
        for s in picked:
            span = pick_short_answer(qtype, s.text, question, info["qterms"], terms) if qtype in TYPED else None
            if span:
                short = span.text
                break
        quotes = [self._quote(s) for s in picked]
        text, citations = compose(quotes)
        return Answer(text, short, False, conf, citations, debug)

    def _adjacent(self, a: Scored, b: Scored) -> bool:
        text = self.store.document_text(a.row.doc_id) or ""
        return not text[a.row.end : b.row.start].strip()

    def _quote(self, s: Scored) -> Quote:
        doc = self.store.document(s.row.doc_id)
        return Quote(doc_id=s.row.doc_id, title=doc.title if doc else "", date=doc.date if doc else None,
                     chunk_id=s.hit.chunk.chunk_id, start=s.row.start, end=s.row.end, text=s.text, score=s.score)

"""The default answerer: a learned extractive reader reads the retrieved passages.

The short answer is the best span over all passages (service/answerers/reader/decode.py); the quoted, cited
sentence is the sentence of the article that holds it (exact character span), and the short
answer's own span is returned so the page can highlight it inside the quote. The reader abstains
when its "no answer" score beats the best span by more than a margin: `confidence` is the
calibrated probability that the span answers the question (a logistic fit of that margin), and the
threshold on it was chosen by cross-validation on held-out SQuAD training articles
(`python -m training.reader.fit`), never on the sets it is measured on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from index.stores.base import SentenceRow
from service.answerers.base import ABSTAIN_TEXT, Answer, Answerer
from service.answerers.citations import Quote, compose
from service.answerers.reader.decode import Span, logistic
from service.answerers.reader.gate import Gate
from service.answerers.reader.runner import ReaderRunner
from service.pipeline.retrieval import Hit
from service.schemas import Citation

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ReaderCalibration:
    """p(correct) = sigmoid(b + sum of weights[f] * features[f]), a logistic fit on held-out
    training articles (training/reader/fit.py); abstain below `threshold`. Features: `margin` (best span
    minus no-answer score), `score` (the span's), `null` (its window's no-answer score), `dense`
    (the passage's cosine to the question, open setting only)."""

    weights: tuple[tuple[str, float], ...] = (("margin", 1.0),)
    b: float = 0.0
    threshold: float = 0.5

    @classmethod
    def from_dict(cls, d: dict | None) -> "ReaderCalibration":
        d = d or {}
        weights = d.get("weights") or {"margin": 1.0}
        return cls(tuple((k, float(v)) for k, v in weights.items()), float(d.get("b", 0.0)),
                   float(d.get("threshold", 0.5)))

    def with_threshold(self, threshold: float) -> "ReaderCalibration":
        return ReaderCalibration(self.weights, self.b, threshold)

    def probability(self, margin: float, **features: float) -> float:
        features["margin"] = margin
        return logistic(self.weights, self.b, features)


def near_key(sentence_vectors: str) -> str:
    """calibration.json's key of the near-sentence bar for an index with these sentence vectors."""
    return "near_cosine" if sentence_vectors == "separate" else f"near_cosine_{sentence_vectors}"


def span_features(span: Span, dense: float = 0.0) -> dict[str, float]:
    return {"margin": span.margin, "score": span.score, "null": span.null, "dense": dense}


# calibration.json's entry, in a second-stage reader's folder, for the two stages together
SECOND_KEY = "open_second"

# until a calibration carries its own (training/reader/fit.py): about the 5th percentile of held-out
# answerable questions' closest-sentence cosine
NEAR_COSINE = 0.5


def closest_sentence(qvec: np.ndarray | None, hits: list[Hit]) -> tuple[float, int, SentenceRow] | None:
    """(cosine, passage index, sentence) of the retrieved sentence closest to the question; pure."""
    if qvec is None:
        return None
    best = None
    for i, h in enumerate(hits):
        for s in h.sentences:
            if s.vector is None or len(s.vector) != len(qvec):
                continue
            cos = float(s.vector @ qvec)
            if best is None or cos > best[0]:
                best = (cos, i, s)
    return best


def holding_sentences(sentences: list[SentenceRow], start: int, end: int) -> list[SentenceRow]:
    """The sentences (document offsets) that overlap [start, end), in order; pure."""
    return [s for s in sorted(sentences, key=lambda s: s.start) if s.start < end and s.end > start]


class ReaderAnswerer(Answerer):
    name = "reader"

    def __init__(self, runner: ReaderRunner, abstain_threshold: float | None = None, max_answer_words: int = 60,
                 chunk_vectors: str = "separate", second: ReaderRunner | None = None, reader_second_passages: int = 2,
                 reader_gate: bool = True, sentence_vectors: str = "separate"):
        self.runner = runner  # passages come with their text (service/pipeline/retrieval.Hit): no store
        self.chunk_vectors = chunk_vectors
        # a second-stage reader re-reads the first stage's best passages; the span is its, and the
        # decision is the two-stage fit in its own folder (training/reader/fit.py --first)
        self.second, self.second_passages = second, reader_second_passages
        # the index's chunk vectors shape the passage-cosine feature: its own fit when it has one
        cal = (second or runner).model.calibration
        # the gate: which questions the second stage re-reads (service/answerers/reader/gate.py); none: all
        self.gate = Gate.from_dict((cal.get(SECOND_KEY) or {}).get("gate")) if second is not None and reader_gate \
            else None
        if second is not None:
            cal = {"open": cal.get(SECOND_KEY) or {}}
        fitted = (chunk_vectors != "separate" and cal.get(f"open_{chunk_vectors}")) or cal.get("open") or {}
        cal = ReaderCalibration.from_dict(fitted)
        if abstain_threshold is not None:
            cal = cal.with_threshold(abstain_threshold)
        self.calibration = cal
        # CITEQA_ABSTAIN_THRESHOLD: every decision, the first stage's outside the gate's band included
        self.override = abstain_threshold
        self.max_answer_words = max_answer_words
        # the closest sentence's cosine follows how the index's sentence vectors were made (late ones
        # sit lower against a question): their own fitted bar when there is one
        self.sentence_vectors = sentence_vectors
        self.near_cosine = float(fitted.get(near_key(sentence_vectors), fitted.get("near_cosine", NEAR_COSINE)))

    def _explain(self, near: tuple[float, int, SentenceRow] | None, hits: list[Hit], conf: float,
                 threshold: float) -> tuple[Citation | None, str | None]:
        """The closest retrieved sentence, when it is as close to the question as answer sentences
        nearly always are (`near_cosine`, fitted on held-out training articles), and why it is not an answer."""
        if near is None or near[0] < self.near_cosine:
            return None, None
        cos, i, s = near
        hit = hits[i]
        closest = Citation(n=1, doc_id=s.doc_id, title=hit.title, date=hit.date, chunk_id=hit.chunk.chunk_id,
                           quote=hit.text[s.start:s.end], start=s.start, end=s.end, score=round(cos, 4))
        why = (f"The sentence closest to the question (similarity {cos:.2f}) is shown, but the reader found no "
               f"answer to the question in it (confidence {conf:.0%}, below the {threshold:.0%} it answers at).")
        return closest, why

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def with_threshold(self, threshold: float) -> "ReaderAnswerer":
        """The same reader (one model, one thread) answering at another threshold (eval)."""
        return ReaderAnswerer(self.runner, threshold, self.max_answer_words, self.chunk_vectors, self.second,
                              self.second_passages, self.gate is not None, self.sentence_vectors)

    def read(self, question: str, hits: list[Hit]) -> list[Span]:
        return self.runner.read(question, [h.passage for h in hits])

    def reread(self, question: str, hits: list[Hit], first: list[Span]) -> tuple[list[Span], dict[str, float]]:
        """The second stage: its reader over the first stage's best passage and the next ones in
        retrieval's order (second_passages in all). Its spans carry indices into `hits`; the first
        stage's best margin is a feature of the two-stage fit."""
        picks = list(dict.fromkeys([first[0].passage, *range(len(hits))]))[:self.second_passages]
        spans = self.second.read(question, [hits[i].passage for i in picks])
        return [replace(s, passage=picks[s.passage]) for s in spans], {"margin1": first[0].margin}

    def run(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> Answer:
        spans = self.read(question, hits) if hits else []
        if not spans:
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [])
        best = spans[0]
        feats = span_features(best, hits[best.passage].dense)
        if self.second is None:
            return self._decide(best, feats, self.calibration.probability(**feats), self.threshold, qvec, hits, {})
        p1 = self.gate.probability(feats) if self.gate else None
        route = self.gate.route(p1) if self.gate else "reread"
        if route != "reread":  # the first stage is sure either way: its own span and confidence
            cut = self.gate.low if route == "abstain" else self.gate.high
            cut = cut if self.override is None else self.override
            return self._decide(best, feats, p1, cut, qvec, hits, {"stage": 1, "p1": p1})
        debug = {"stage": 2, "p1": p1, **{f"{k}1": v for k, v in feats.items()}}
        if self.gate is None:  # every question re-read (the gate's fit): what the first stage alone answered
            debug["first_answer"] = self._respond(best, 1.0, hits, {}).text
        spans, extra = self.reread(question, hits, spans)
        if not spans:
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [], debug=debug)
        best = spans[0]
        feats = span_features(best, hits[best.passage].dense) | extra
        return self._decide(best, feats, self.calibration.probability(**feats), self.threshold, qvec, hits, debug)

    def _decide(self, best: Span, feats: dict[str, float], conf: float, threshold: float, qvec: np.ndarray | None,
                hits: list[Hit], debug: dict) -> Answer:
        """Answer with `best` at confidence `conf`, or abstain below `threshold` (saying why)."""
        debug = {**debug, **feats, "passage": best.passage}
        near = closest_sentence(qvec, hits)
        debug["near"] = near[0] if near else None
        if conf < threshold:
            closest, why = self._explain(near, hits, conf, threshold)
            return Answer(ABSTAIN_TEXT, None, True, conf, [], debug=debug, closest=closest, why=why)
        return self._respond(best, conf, hits, debug)

    def _respond(self, best: Span, conf: float, hits: list[Hit], debug: dict) -> Answer:
        """The answer: the sentences of the article that hold the span, cited, and the span itself."""
        # the passage it answers from is listed first; the others keep retrieval's order (ordering them
        # all by the reader's margin lost hit@1 on the team's questions: 88.5 % vs 98.7 %)
        order = [best.passage] + [i for i in range(len(hits)) if i != best.passage]
        hit = hits[best.passage]
        doc_text = hit.text
        raw = doc_text[hit.chunk.start + best.start:hit.chunk.start + best.end]
        start = hit.chunk.start + best.start + (len(raw) - len(raw.lstrip()))
        end = hit.chunk.start + best.start + len(raw.rstrip())
        short = doc_text[start:end]
        sents = holding_sentences(hit.sentences, start, end) or [
            SentenceRow(hit.chunk.doc_id, hit.chunk.start, hit.chunk.end, np.zeros(0), frozenset())]
        quotes = [Quote(doc_id=hit.chunk.doc_id, title=hit.title, date=hit.date, chunk_id=hit.chunk.chunk_id,
                        start=s.start, end=s.end, text=doc_text[s.start:s.end], score=conf) for s in sents]
        text, citations = compose(_trim(quotes, start, end, self.max_answer_words))
        span = {"n": citations[0].n, "doc_id": hit.chunk.doc_id, "start": start, "end": end}
        return Answer(text, short or None, False, conf, citations, debug=debug, short_span=span, order=order)


def _trim(quotes: list[Quote], start: int, end: int, max_words: int) -> list[Quote]:
    """A span that crosses sentences is quoted with all of them, unless that runs past the answer
    length; then only the sentence where the span starts. A sentence longer than the answer length
    is narrowed to the words around the span (still an exact slice of the article)."""
    if len(quotes) > 1 and sum(len(q.text.split()) for q in quotes) > max_words:
        quotes = [q for q in quotes if q.start <= start < q.end] or quotes[:1]
    if len(quotes) == 1 and len(quotes[0].text.split()) > max_words:
        q = quotes[0]
        s, e = narrow(q.text, start - q.start, end - q.start, max_words)
        quotes = [replace(q, start=q.start + s, end=q.start + e, text=q.text[s:e])]
    return quotes


def narrow(text: str, start: int, end: int, max_words: int) -> tuple[int, int]:
    """The slice of `text` of at most max_words whole words that holds [start, end) (as much of it
    as fits), centred on it; pure."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    inside = [i for i, (a, b) in enumerate(words) if b > start and a < end] or [0]
    lo, hi = inside[0], min(inside[-1], inside[0] + max_words - 1)
    while hi - lo + 1 < max_words and (lo > 0 or hi < len(words) - 1):
        if lo > 0:
            lo -= 1
        if hi < len(words) - 1 and hi - lo + 1 < max_words:
            hi += 1
    return words[lo][0], words[hi][1]

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

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.stores.sqlite.store import SentenceRow, Store
from index.text.terms import terms
from service.answerers.extractive.answer_types import near, near_all, novel_spans, pick_short_answer
from service.answerers.extractive.question_types import (NAME, TYPED, WHAT, WHO, WHY, asks_for_named_entity, focus_noun, how_many_focus,
                                    name_focus, office_focus, office_terms, question_type, specifics, subtype)
from service.answerers.base import ABSTAIN_TEXT, Answer, Answerer
from service.answerers.citations import Quote, compose
from service.pipeline.retrieval import Hit

# Sentences that lean on the one before ("They also …", "This summit …") are quoted with it.
_LEANS_BACK = re.compile(r"^(?:they|he|she|it|this|these|those|the two|both|but|however|also|meanwhile)\b", re.I)
_CAUSAL = re.compile(r"\b(?:because|due to|in order to|so that|aimed at|amid|to (?:counter|respond|deter|address|"
                     r"better|strengthen|bolster|discuss|tackle|urge)|in response to|purpose|"
                     r"as (?:both|the|intelligence|reports?|concerns?|tensions?|threats?|it|they|he|she|its|their))\b",
                     re.I)
# "…, according to the article on X": names the source, not what the sentence must say
_SOURCE_CLAUSE = re.compile(r",?\s*according to (?:the|a|an)\s+(?:[\w’'-]+\s+){0,3}?(?:article|report|story|paper|"
                            r"newspaper|piece|school newspaper)\b[^,?]*", re.I)


# Words that shape a question but say nothing of its topic.
_QUESTION_ONLY = re.compile(r"\b(?:many|much|according|exact|exactly|kind|sort|types?|articles?|reported|reportedly)\b", re.I)
_ENDS_SENTENCE = re.compile(r"[.!?][\"”’')\]]*$|[\"”’]$")


CALIBRATION_PATH = Path(__file__).with_name("calibration.json")


def load_calibration(path: Path = CALIBRATION_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Scored:
    row: SentenceRow
    hit: Hit | None  # None until score() places the sentence in a passage
    text: str
    sem: float
    cov: float
    fit: float
    score: float
    heading: bool = False
    prev: "Scored | None" = None
    specific: bool = True  # every number/ordinal the question names is in the sentence or the one before


def _idf(df: int, n: int) -> float:
    return math.log((n + 1) / (df + 0.5)) + 1.0


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
        self._memo = threading.local()

    @staticmethod
    def score_terms(s: "Scored", rank: int | None = None) -> dict[str, float]:
        """The terms of a sentence's score: sem + sum(weight[k] * term[k]); `rank`: its passage's
        (default: the passage it is placed in)."""
        rank = s.hit.rank if rank is None else rank
        return {"sem": s.sem, "cov": s.cov, "fit": s.fit, "prior": 1.0 / (rank + 1), "heading": -float(s.heading)}

    def _weighted(self, s: "Scored", rank: int) -> float:
        t = self.score_terms(s, rank)
        return t["sem"] + sum(w * t[k] for k, w in self.weights.items())

    @staticmethod
    def _owners(hits: list[Hit]) -> dict[tuple[str, int], Hit]:
        """Each sentence's passage: the best-ranked one that holds it (overlap repeats sentences)."""
        owner: dict[tuple[str, int], Hit] = {}
        for h in hits:
            for r in h.sentences:
                owner.setdefault((r.doc_id, r.start), h)
        return owner

    # ---- scoring ------------------------------------------------------------------------------
    def score(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> tuple[list[Scored], dict]:
        """The candidate sentences of `hits`, best first, each placed in its passage (`_owners`),
        whose rank gives its prior."""
        sentences, info = self._analyse(question, qvec, hits)
        owner = self._owners(hits)
        scored: list[Scored] = []
        for i, a in enumerate(sentences):
            hit = owner[(a.row.doc_id, a.row.start)]
            item = Scored(a.row, hit, a.text, a.sem, a.cov, a.fit, self._weighted(a, hit.rank), a.heading,
                          scored[i - 1] if a.prev is not None else None, a.specific)
            scored.append(item)
        return sorted(scored, key=lambda x: -x.score), info

    def _analyse(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> tuple[list[Scored], dict]:
        """Everything about the candidate sentences that does not depend on the passages' order, in
        document order. Within one ask the reranker and then the answerer score the same passages,
        only re-ordered: the second call reuses the first. "One ask" = the same query-vector object
        (each ask embeds anew), the same passages and no write in between (row ids can be reused)."""
        key = (question, frozenset(h.row_id for h in hits), self.store.generation())
        last = getattr(self._memo, "last", None)
        if last is not None and last[0] is qvec and last[1] == key:
            return last[2]
        result = self._analyse_uncached(question, qvec, hits)
        self._memo.last = (qvec, key, result)
        return result

    def _analyse_uncached(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> tuple[list[Scored], dict]:
        qtype = question_type(question)
        sub = subtype(question, qtype)
        focus = how_many_focus(question)
        qterms = set(terms(_QUESTION_ONLY.sub(" ", _SOURCE_CLAUSE.sub(" ", question))))
        noun = focus_noun(question)
        noun_terms = set(terms(noun)) if noun and qtype != NAME else set()
        df, n = self.store.document_frequencies(qterms | noun_terms)
        weights = {t: _idf(df.get(t, 0), n) for t in qterms}
        total = sum(weights.values()) or 1.0
        specs = specifics(question)
        named_focus = set(terms(name_focus(question) or "")) if qtype == NAME else set()
        entity_q = qtype == WHAT and asks_for_named_entity(question)
        office = office_terms(office_focus(question), terms) if qtype == WHO else set()
        info = {"qtype": qtype, "sub": sub, "focus": focus, "qterms": qterms, "weights": weights,
                "name_focus": named_focus, "entity": entity_q,
                # "what was the budget of …" when no article ever mentions a budget
                "absent_focus": bool(noun_terms) and all(df.get(t, 0) == 0 for t in noun_terms)}

        by_key: dict[tuple[str, int], SentenceRow] = {}
        for h in hits:
            for r in h.sentences:
                by_key.setdefault((r.doc_id, r.start), r)
        if not by_key:
            return [], info
        rows = sorted(by_key.values(), key=lambda r: (r.doc_id, r.start))
        texts = self.store.texts(h.chunk.doc_id for h in hits)
        sims = np.stack([r.vector for r in rows]) @ qvec.reshape(-1)

        def coverage(ts: frozenset[str]) -> float:
            return sum(weights[t] for t in qterms if t in ts) / total

        out: list[Scored] = []
        for i, (r, sem) in enumerate(zip(rows, sims)):
            doc_text = texts[r.doc_id]
            text = doc_text[r.start : r.end]
            cov = coverage(r.terms)
            prev = None
            if i and rows[i - 1].doc_id == r.doc_id and not doc_text[rows[i - 1].end : r.start].strip() \
                    and _LEANS_BACK.match(text):
                prev = out[i - 1]
                # "They noted …" is about whoever the sentence before names
                cov = max(cov, coverage(r.terms | prev.row.terms))
            if qtype == NAME:
                spans = novel_spans(NAME, text, question)
                if named_focus:
                    spans = [sp for sp in spans if near(text, sp, named_focus, terms)]
                fit = 1.0 if spans else 0.0
            elif qtype in TYPED:
                spans = novel_spans(qtype, text, question, focus, sub)
                if office:  # "who was Japan's defense minister": a name next to "defense minister"
                    spans = [sp for sp in spans if near_all(text, sp, office, terms)]
                fit = 1.0 if spans else 0.0
            elif entity_q:
                fit = 1.0 if novel_spans(NAME, text, question) else 0.0
            elif qtype == WHY:
                fit = 1.0 if _CAUSAL.search(text) else 0.0
            else:
                fit = 0.5
            heading = len(text.split()) < 5 or not _ENDS_SENTENCE.search(text)
            context = (prev.text + " " + text) if prev else text
            specific = all(re.search(rf"(?<![\w]){re.escape(x)}(?![\w])", context, re.I) for x in specs)
            out.append(Scored(r, None, text, float(sem), cov, fit, 0.0, heading, prev, specific))
        return out, info

    def sentence_scores(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> dict[tuple[str, int], float]:
        """Every candidate sentence's score, keyed by (doc_id, start): what the reranker orders by
        (score()'s numbers, without building and sorting its rows)."""
        sentences, _ = self._analyse(question, qvec, hits)
        owner = self._owners(hits)
        return {(a.row.doc_id, a.row.start): self._weighted(a, owner[(a.row.doc_id, a.row.start)].rank)
                for a in sentences}

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
        docs = self.store.documents_by_id(s.row.doc_id for s in picked)
        quotes = [self._quote(s, docs.get(s.row.doc_id)) for s in picked]
        text, citations = compose(quotes)
        return Answer(text, short, False, conf, citations, debug)

    @staticmethod
    def _quote(s: Scored, doc) -> Quote:
        return Quote(doc_id=s.row.doc_id, title=doc.title if doc else "", date=doc.date if doc else None,
                     chunk_id=s.hit.chunk.chunk_id, start=s.row.start, end=s.row.end, text=s.text, score=s.score)

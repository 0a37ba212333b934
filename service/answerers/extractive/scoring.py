"""The fallback answerer's sentence scoring, as plain functions: what the answerer picks by and
what the reranker (service/pipeline/reranking.py) orders passages by, with any answerer. Each
candidate sentence of the passages gets sem (cosine to the question), cov (IDF coverage of the
question's words), fit (a span of the asked-for answer type) and the passage's rank prior; the
analysis that does not depend on the passages' order is done once per ask and reused."""
from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.stores.base import SentenceRow
from index.text.terms import terms
from service.answerers.extractive.answer_types import near, near_all, novel_spans
from service.answerers.extractive.question_types import (NAME, TYPED, WHAT, WHO, WHY, asks_for_named_entity,
                                                         focus_noun, how_many_focus, name_focus, office_focus,
                                                         office_terms, question_type, specifics, subtype)
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


def default_weights() -> dict[str, float]:
    """The shipped calibration's sentence weights (what the reranker scores with)."""
    return {k: float(v) for k, v in load_calibration()["sentence_weights"].items()}


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



_MEMO = threading.local()  # the last analysis on this thread: (qvec, store, key, result)


def score_terms(s: Scored, rank: int | None = None) -> dict[str, float]:
    """The terms of a sentence's score: sem + sum(weight[k] * term[k]); `rank`: its passage's
    (default: the passage it is placed in)."""
    rank = s.hit.rank if rank is None else rank
    return {"sem": s.sem, "cov": s.cov, "fit": s.fit, "prior": 1.0 / (rank + 1), "heading": -float(s.heading)}

def weighted(s: Scored, rank: int, weights: dict[str, float]) -> float:
    """A sentence's score with its passage at `rank`: sem + sum(weight[k] * term[k])."""
    t = score_terms(s, rank)
    return t["sem"] + sum(w * t[k] for k, w in weights.items())


def owners(hits: list[Hit]) -> dict[tuple[str, int], Hit]:
    """Each sentence's passage: the best-ranked one that holds it (overlap repeats sentences)."""
    owner: dict[tuple[str, int], Hit] = {}
    for h in hits:
        for r in h.sentences:
            owner.setdefault((r.doc_id, r.start), h)
    return owner


def analyse(question: str, qvec: np.ndarray, hits: list[Hit], store) -> tuple[list[Scored], dict]:
    """Everything about the candidate sentences that does not depend on the passages' order, in
    document order. Within one ask the reranker and then the answerer score the same passages,
    only re-ordered: the second call reuses the first. "One ask" = the same query-vector object
    (each ask embeds anew), the same passages and no write in between (row ids can be reused)."""
    key = (question, frozenset(h.row_id for h in hits), store.generation())
    last = getattr(_MEMO, "last", None)
    if last is not None and last[0] is qvec and last[1] is store and last[2] == key:
        return last[3]
    result = analyse_uncached(question, qvec, hits, store)
    _MEMO.last = (qvec, store, key, result)
    return result

def analyse_uncached(question: str, qvec: np.ndarray, hits: list[Hit], store) -> tuple[list[Scored], dict]:
    qtype = question_type(question)
    sub = subtype(question, qtype)
    focus = how_many_focus(question)
    qterms = set(terms(_QUESTION_ONLY.sub(" ", _SOURCE_CLAUSE.sub(" ", question))))
    noun = focus_noun(question)
    noun_terms = set(terms(noun)) if noun and qtype != NAME else set()
    df, n = store.document_frequencies(qterms | noun_terms)
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
    texts = {h.chunk.doc_id: h.text for h in hits}  # the passages carry their document's text
    sims = np.stack([r.vector for r in rows]) @ qvec.reshape(-1)

    def coverage(ts: frozenset[str]) -> float:
        return sum(weights[t] for t in qterms if t in ts) / total

    out: list[Scored] = []
    for i, (r, sem) in enumerate(zip(rows, sims)):
        doc_text = texts.get(r.doc_id, "")
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


def sentence_scores(question: str, qvec: np.ndarray, hits: list[Hit], store, weights: dict[str, float]) -> dict[tuple[str, int], float]:
    """Every candidate sentence's score, keyed by (doc_id, start): what the reranker orders by
    (ExtractiveAnswerer.score()'s numbers, without building and sorting its rows)."""
    sentences, _ = analyse(question, qvec, hits, store)
    owner = owners(hits)
    return {(a.row.doc_id, a.row.start): weighted(a, owner[(a.row.doc_id, a.row.start)].rank, weights)
            for a in sentences}

"""Evaluation metrics: pure functions, plain data in, numbers out.

Nothing here knows about the engine, HTTP or files; the harness turns responses into plain
per-question rows (dicts) and these functions score and aggregate them. See eval/README.md for
what each metric means.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# ---- text normalization ---------------------------------------------------------------------
_WS = re.compile(r"\s+")  # \s covers \xa0, \u2009, \u3000 ... in Python 3 str patterns
_MARKER = re.compile(r"\s*\[\d+\]")
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u00a0": " "})


def normalize_ws(text: str) -> str:
    """Collapse every run of whitespace (incl. non-breaking spaces) to one space, strip the ends."""
    return _WS.sub(" ", text or "").strip()


def normalize_answer_text(text: str) -> str:
    """For answer matching: whitespace collapsed, case folded, curly quotes and dashes made plain."""
    return normalize_ws((text or "").translate(_FOLD)).casefold()


def strip_markers(answer: str) -> str:
    """The answer without its [n] citation markers."""
    return normalize_ws(_MARKER.sub("", answer or ""))


def word_count(text: str) -> int:
    return len(strip_markers(text).split())


def contains_variant(text: str | None, variants: Iterable[str]) -> bool:
    """True when some gold answer variant occurs (case-insensitively) in `text`."""
    if not text:
        return False
    hay = normalize_answer_text(text)
    return any(v and normalize_answer_text(v) and normalize_answer_text(v) in hay for v in variants)


def _occurs_as_words(needle: str, hay: str) -> bool:
    """`needle` occurs in `hay` on word boundaries (both already normalized)."""
    if not needle:
        return False
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", hay) is not None


# ---- retrieval ------------------------------------------------------------------------------
def first_gold_rank(passage_doc_ids: Sequence[str], gold_doc_ids: Iterable[str]) -> int | None:
    """1-based rank of the first passage from a gold article, or None."""
    gold = set(gold_doc_ids)
    for i, d in enumerate(passage_doc_ids, 1):
        if d in gold:
            return i
    return None


def hit_at_k(passage_doc_ids: Sequence[str], gold_doc_ids: Iterable[str], k: int) -> bool:
    """A passage from a gold article is among the first k."""
    rank = first_gold_rank(passage_doc_ids, gold_doc_ids)
    return rank is not None and rank <= k


def reciprocal_rank(passage_doc_ids: Sequence[str], gold_doc_ids: Iterable[str]) -> float:
    """1 / rank of the first gold passage (0 when none was retrieved)."""
    rank = first_gold_rank(passage_doc_ids, gold_doc_ids)
    return 0.0 if rank is None else 1.0 / rank


def evidence_in(text: str, evidence: str) -> bool:
    """The evidence sentence lies inside `text`, comparing with whitespace normalized."""
    ev = normalize_ws(evidence)
    return bool(ev) and ev in normalize_ws(text)


def evidence_hit_at_k(passage_texts: Sequence[str], evidence: str, k: int) -> bool:
    """The gold evidence sentence lies inside one of the first k passages."""
    return any(evidence_in(t, evidence) for t in list(passage_texts)[:k])


# ---- answers --------------------------------------------------------------------------------
def answer_correct(answer: str | None, variants: Iterable[str], abstained: bool, max_words: int = 60) -> bool:
    """A gold variant occurs in the answer, the answer (markers aside) has at most `max_words`
    words, and the service did not abstain."""
    if abstained or not answer:
        return False
    if word_count(answer) > max_words:
        return False
    return contains_variant(strip_markers(answer), variants)


def short_answer_correct(short_answer: str | None, variants: Iterable[str]) -> bool:
    """A gold variant occurs in the short answer, or the short answer occurs (as whole words) in a
    gold variant. None or empty is wrong."""
    if not short_answer or not normalize_answer_text(short_answer):
        return False
    short = normalize_answer_text(short_answer)
    for v in variants:
        gold = normalize_answer_text(v)
        if gold and (gold in short or _occurs_as_words(short, gold)):
            return True
    return False


# ---- citations ------------------------------------------------------------------------------
def citation_supports(doc_id: str, quote: str, gold_doc_ids: Iterable[str], variants: Iterable[str]) -> bool:
    """A cited quote supports the answer when it comes from a gold article and contains a gold variant."""
    return doc_id in set(gold_doc_ids) and contains_variant(quote, variants)


def count_supporting(citations: Iterable[tuple[str, str]], gold_doc_ids: Iterable[str],
                     variants: Iterable[str]) -> tuple[int, int]:
    """(supporting citations, all citations) of one answer; citations are (doc_id, quote) pairs."""
    gold, vs = list(gold_doc_ids), list(variants)
    cits = list(citations)
    return sum(citation_supports(d, q, gold, vs) for d, q in cits), len(cits)


def citation_precision(per_question: Iterable[tuple[int, int]]) -> float | None:
    """Micro precision: supporting citations / all citations, over (supporting, total) pairs.
    None when nothing was cited."""
    sup = tot = 0
    for s, t in per_question:
        sup += s
        tot += t
    return sup / tot if tot else None


def citation_recall(per_question: Iterable[tuple[bool, int]]) -> float | None:
    """Correct answers that carry at least one supporting citation / correct answers, over
    (answer correct, supporting citations) pairs. None when no answer is correct."""
    correct = supported = 0
    for ok, sup in per_question:
        if ok:
            correct += 1
            supported += sup > 0
    return supported / correct if correct else None


# ---- aggregation helpers --------------------------------------------------------------------
def mean(values: Iterable[float | bool]) -> float | None:
    vals = [float(v) for v in values]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0-100), linear interpolation between closest ranks (numpy's default)."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be within [0, 100]")
    pos = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def abstention_rates(rows: Iterable[dict]) -> dict[str, float | None]:
    """Rows need `answerable` and `abstained`. Returns the share of unanswerable questions
    correctly abstained and the share of answerable questions wrongly abstained."""
    rows = list(rows)
    return {
        "unanswerable_abstained": mean(r["abstained"] for r in rows if not r["answerable"]),
        "answerable_wrongly_abstained": mean(r["abstained"] for r in rows if r["answerable"]),
    }


# ---- threshold calibration ------------------------------------------------------------------
def abstains_at(confidence: float, threshold: float, abstained_anyway: bool = False) -> bool:
    """The answerer's rule: abstain iff confidence < threshold (or it had nothing to answer from)."""
    return abstained_anyway or confidence < threshold


def threshold_grid(step: float = 0.05, lo: float = 0.0, hi: float = 0.95) -> list[float]:
    n = int(round((hi - lo) / step))
    return [round(lo + i * step, 6) for i in range(n + 1)]


def sweep_point(rows: Iterable[dict], threshold: float) -> dict[str, float | None]:
    """Simulate one threshold. Rows need `answerable`, `confidence`, `raw_abstained` (abstained
    even at threshold 0) and `raw_correct` (the best answer is correct)."""
    rows = list(rows)
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]

    def off(r: dict) -> bool:
        return abstains_at(r["confidence"], threshold, r["raw_abstained"])

    return {
        "threshold": threshold,
        "unanswerable_abstained": mean(off(r) for r in una),
        "answerable_wrongly_abstained": mean(off(r) for r in ans),
        "accuracy": mean((not off(r)) and r["raw_correct"] for r in ans),
        # every question: answerable answered right, or unanswerable abstained
        "overall_correct": mean(((not off(r)) and r["raw_correct"]) if r["answerable"] else off(r) for r in rows),
    }


def sweep(rows: Iterable[dict], thresholds: Iterable[float]) -> list[dict[str, float | None]]:
    rows = list(rows)
    return [sweep_point(rows, t) for t in thresholds]


def recommend_threshold(points: Iterable[dict], max_wrongly_abstained: float = 0.05) -> float | None:
    """The threshold that abstains on the most unanswerable questions while wrongly abstaining on
    at most `max_wrongly_abstained` of the answerable ones; ties go to the lowest threshold.
    None when no threshold satisfies the constraint."""
    best: dict | None = None
    for p in sorted(points, key=lambda p: p["threshold"]):
        wrong = p["answerable_wrongly_abstained"] or 0.0
        if wrong > max_wrongly_abstained + 1e-12:
            continue
        if best is None or (p["unanswerable_abstained"] or 0.0) > (best["unanswerable_abstained"] or 0.0) + 1e-12:
            best = p
    return None if best is None else best["threshold"]

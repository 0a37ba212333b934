"""SQuAD 2.0 scoring: the official answer normalisation, EM and F1, and the open-setting figures
of `citeqa eval --squad`. Pure functions over plain rows (dicts)."""
from __future__ import annotations

import bisect
import collections
import re
import string
from collections.abc import Iterable, Sequence

from eval.metrics import mean, percentile, strip_markers

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize(text: str) -> str:
    """The official evaluate-v2.0 normalisation: lowercase, no punctuation, no a/an/the, single spaces."""
    text = (text or "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact(pred: str, gold: str) -> float:
    return float(normalize(pred) == normalize(gold))


def f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:  # the official script: both empty is a match, one empty is not
        return float(p == g)
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def best_over(metric, pred: str, golds: Sequence[str]) -> float:
    """SQuAD scores a prediction against every gold answer and keeps the best; an unanswerable
    question's only gold is the empty string."""
    golds = [g for g in golds if normalize(g)] or [""]
    return max(metric(pred, g) for g in golds)


def contains(text: str | None, golds: Iterable[str], max_words: int = 60) -> bool:
    """The answer (markers removed, at most max_words) contains a gold answer, both normalised."""
    if not text:
        return False
    words = strip_markers(text).split()
    if len(words) > max_words:
        return False
    hay = f" {normalize(' '.join(words))} "
    return any(normalize(g) and f" {normalize(g)} " in hay for g in golds)


def open_row(q: dict, resp: dict, wall_ms: float, top_k: int = 5) -> dict:
    """One question of the open setting, scored from an /api/ask response object."""
    golds = q["answers"]
    abstained = bool(resp["abstained"])
    short = "" if abstained else (resp.get("short_answer") or "")
    passages = [p["text"] for p in resp.get("passages", [])[:top_k]]
    return {
        "id": q["id"], "article": q["article"], "answerable": q["answerable"], "abstained": abstained,
        "confidence": resp.get("confidence"), "short_answer": short,
        "contains": q["answerable"] and not abstained and contains(resp.get("answer"), golds),
        "em": best_over(exact, short, golds if q["answerable"] else []),
        "f1": best_over(f1, short, golds if q["answerable"] else []),
        "ev5": q["answerable"] and any(contains(p, golds, max_words=10**6) for p in passages),
        # the first passage comes from the question's own article (its title is the document's)
        "hit1": bool(resp.get("passages")) and resp["passages"][0].get("title") == q["article"].replace("_", " "),
        "ms": wall_ms, "overlap": q.get("overlap"),
    }


# bins of the content words (stemmed) a question shares with its answer sentence: the lowest is a
# question in the asker's own words, the kind a user writes without the article in front of them
OVERLAP_BINS = ((0, 1, "0-1"), (2, 2, "2"), (3, 3, "3"), (4, 10**9, "4+"))


def overlap(question: str, sentence: str) -> int:
    """How many distinct content words (stemmed, index/terms.py) the question shares with the sentence."""
    from index.text.terms import terms

    return len(set(terms(question)) & set(terms(sentence)))


def overlap_bin(n: int | None) -> str | None:
    if n is None:
        return None
    return next(name for lo, hi, name in OVERLAP_BINS if lo <= n <= hi)


def by_overlap(rows: Sequence[dict]) -> dict[str, dict]:
    """Answerable questions binned by `overlap` with their answer sentence: per bin the count,
    contains, false abstentions and evidence in the top 5 (paraphrase robustness without writing
    questions for the measured set)."""
    out = {}
    for _, _, name in OVERLAP_BINS:
        rs = [r for r in rows if r["answerable"] and overlap_bin(r.get("overlap")) == name]
        out[name] = {"questions": len(rs), "contains": mean(r["contains"] for r in rs),
                     "false_abstain": mean(r["abstained"] for r in rs), "ev5": mean(r["ev5"] for r in rs)}
    return out


def open_summary(rows: Sequence[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    right = sum(r["contains"] for r in ans) + sum(r["abstained"] for r in neg)
    return {
        "questions": len(rows), "answerable": len(ans), "unanswerable": len(neg),
        "contains": mean(r["contains"] for r in ans),
        "short_em": mean(r["em"] for r in ans), "short_f1": mean(r["f1"] for r in ans),
        "noans": mean(r["abstained"] for r in neg), "false_abstain": mean(r["abstained"] for r in ans),
        "overall": right / len(rows) if rows else None,
        "ev5": mean(r["ev5"] for r in ans),
        "hit1": mean(r.get("hit1", False) for r in ans),
        "p50_ms": percentile([r["ms"] for r in rows], 50), "p95_ms": percentile([r["ms"] for r in rows], 95),
        # with a second-stage reader: the share of questions it re-read (its gate, service/answerers/reader/gate.py)
        "reread": mean(r["stage"] == 2 for r in rows if r.get("stage") is not None),
    }


def separability(rows: Sequence[dict], caps: Sequence[float] = (0.05, 0.10, 0.15)) -> dict:
    """How well `confidence` tells answerable from unanswerable questions, whatever the threshold:
    the AUC (the chance an answerable question outranks an unanswerable one, ties half) and, for
    each cap, the most unanswerable questions any threshold abstains on while abstaining on at most
    that share of the answerable ones. A ceiling of what calibration alone can reach on this set;
    reported, never used to choose a threshold. Pure (rank arithmetic: no scikit-learn dependency)."""
    pos = sorted(r["confidence"] or 0.0 for r in rows if r["answerable"])
    neg = [r["confidence"] or 0.0 for r in rows if not r["answerable"]]
    if not pos or not neg:
        return {"auc": None, **{f"noans_at_fa_{c:.2f}": None for c in caps}}
    wins = sum(bisect.bisect_left(pos, x) for x in neg)  # answerable questions below each negative
    ties = sum(bisect.bisect_right(pos, x) - bisect.bisect_left(pos, x) for x in neg)
    auc = 1.0 - (wins + 0.5 * ties) / (len(pos) * len(neg))
    out = {"auc": auc}
    for c in caps:
        # abstain below t: t is the lowest answerable confidence above the allowed share of them
        k = int(c * len(pos))  # answerable questions that may be abstained on
        t = pos[k] if k < len(pos) else float("inf")
        out[f"noans_at_fa_{c:.2f}"] = sum(x < t for x in neg) / len(neg)
    return out


def closed_summary(rows: Sequence[dict]) -> dict:
    """SQuAD 2.0's own figures: EM/F1 over all questions (an abstention is the empty answer)."""
    ans = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows), "EM": 100 * (mean(r["em"] for r in rows) or 0),
        "F1": 100 * (mean(r["f1"] for r in rows) or 0),
        "HasAns_EM": 100 * (mean(r["em"] for r in ans) or 0), "HasAns_F1": 100 * (mean(r["f1"] for r in ans) or 0),
        "NoAns_acc": 100 * (mean(r["abstained"] for r in neg) or 0),
        "forced_HasAns_F1": 100 * (mean(r["forced_f1"] for r in ans) or 0),
    }


def by_article(rows: Sequence[dict], summary=open_summary) -> dict[str, dict]:
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        groups[r["article"]].append(r)
    return {a: summary(rs) for a, rs in sorted(groups.items())}

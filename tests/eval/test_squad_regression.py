"""Regression floors on a `--limit`ed SQuAD 2.0 dev6 run (open setting, the shipped readers).

Two of the six dev6 articles, every third question: a corpus and questions nobody here wrote.
dev6 is only measured on (nothing is fitted to it); the floors sit a few points under the figures
measured when they were set (see README), so a change that loses real accuracy fails here.
"""
from __future__ import annotations

import pytest

from eval import squad, squad_metrics as sm
from eval.metrics import strip_markers

pytestmark = pytest.mark.slow
ARTICLES = ("Normans", "Steam_engine")
# measured 2026-12-06 with the shipped pair (the 6-layer reader and its gated 12-layer second stage, 47 % of
# these questions re-read): overall 0.642, contains 0.841, short F1 0.744, noans 0.450, false_abstain 0.093,
# ev5 0.972 (218 questions; the 6-layer reader alone, 2026-12-01: 0.564, 0.860, 0.721, 0.279, 0.075, 0.972)
FLOORS = {"overall": 0.60, "contains": 0.80, "short_f1": 0.70, "noans": 0.40, "ev5": 0.95}
CEILINGS = {"false_abstain": 0.12}


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    arts = [a for a in squad.load(squad.DEV6) if a["title"] in ARTICLES]
    qs = squad.questions(arts)[::3]
    rows = squad.run_open(arts, qs, workdir=tmp_path_factory.mktemp("squad"), progress=False)
    return sm.open_summary(rows), rows


def test_dev6_limited_run_above_floors(summary):
    s, _ = summary
    low = {k: (s[k], f) for k, f in FLOORS.items() if s[k] < f}
    high = {k: (s[k], c) for k, c in CEILINGS.items() if s[k] > c}
    assert not low and not high, (low, high, s)


def test_answers_quote_the_article_and_short_answers_lie_in_them(summary):
    _, rows = summary
    answered = [r for r in rows if not r["abstained"]]
    assert answered
    for r in answered:
        # a span across two sentences quotes both, each with its marker
        assert r["short_answer"] and sm.normalize(r["short_answer"]) in sm.normalize(strip_markers(r["answer"]))


def test_the_milvus_store_gives_the_same_answers(summary, tmp_path_factory):
    """Every third question of the run again with CITEQA_STORE=milvus (milvus-lite): the same
    abstentions, answers containing the gold and evidence in the top 5 but for about one question in
    thirty (candidates come from another engine's BM25; the rest is citeqa's). A third of the run
    keeps the suite's time; tests/eval/test_store_parity.py compares the team set's figures."""
    pytest.importorskip("milvus_lite")
    _, rows = summary
    arts = [a for a in squad.load(squad.DEV6) if a["title"] in ARTICLES]
    qs = squad.questions(arts)[::9]
    mine = rows[::3]
    assert [r["id"] for r in mine] == [q["id"] for q in qs]
    theirs = squad.run_open(arts, qs, workdir=tmp_path_factory.mktemp("squad-milvus"), progress=False, store="milvus")
    key = lambda r: (r["abstained"], r["contains"], r["ev5"])  # noqa: E731
    apart = [(a["question"], key(a), key(b)) for a, b in zip(mine, theirs) if key(a) != key(b)]
    assert len(apart) <= max(2, len(qs) // 30), apart

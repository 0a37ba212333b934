"""Unit tests of the pure metric functions: small hand-made cases, each metric both ways."""
from __future__ import annotations

import pytest

from eval import metrics as M

GOLD = ["doc-a"]


# ---- normalization --------------------------------------------------------------------------
def test_normalize_ws_collapses_every_kind_of_whitespace():
    assert M.normalize_ws("  a\u00a0 b\n\tc\u2009d  ") == "a b c d"
    assert M.normalize_ws("") == ""


def test_strip_markers_and_word_count():
    assert M.strip_markers("It rained. [1] Then it snowed. [2]") == "It rained. Then it snowed."
    assert M.word_count("one two three [1]") == 3


# ---- retrieval ------------------------------------------------------------------------------
def test_hit_at_k_hit_and_miss():
    ranked = ["doc-b", "doc-a", "doc-c"]
    assert not M.hit_at_k(ranked, GOLD, 1)
    assert M.hit_at_k(ranked, GOLD, 2)
    assert M.hit_at_k(["doc-a"], GOLD, 1)
    assert not M.hit_at_k(["doc-b", "doc-c"], GOLD, 5)
    assert not M.hit_at_k([], GOLD, 5)


def test_hit_with_several_gold_articles():
    assert M.hit_at_k(["doc-x", "doc-b"], ["doc-a", "doc-b"], 2)
    assert M.first_gold_rank(["doc-x", "doc-b", "doc-a"], ["doc-a", "doc-b"]) == 2


def test_reciprocal_rank():
    assert M.reciprocal_rank(["doc-a", "doc-b"], GOLD) == 1.0
    assert M.reciprocal_rank(["doc-b", "doc-c", "doc-a"], GOLD) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(["doc-b", "doc-c"], GOLD) == 0.0


def test_evidence_hit_normalizes_whitespace_on_both_sides():
    evidence = "The summit was held\u00a0in  August."
    passages = ["Something else.", "Intro. The summit was\nheld in August. More text."]
    assert M.evidence_hit_at_k(passages, evidence, 5)
    assert not M.evidence_hit_at_k(passages, evidence, 1)  # only in the second passage
    assert not M.evidence_hit_at_k(["The summit was held in July."], evidence, 5)
    assert not M.evidence_hit_at_k(passages, "", 5)  # no evidence never hits


# ---- answers --------------------------------------------------------------------------------
def test_answer_correct_case_insensitive():
    assert M.answer_correct("They met in WASHINGTON on Friday. [1]", ["Washington"], abstained=False)
    assert not M.answer_correct("They met in Tokyo. [1]", ["Washington"], abstained=False)


def test_answer_correct_folds_curly_quotes():
    assert M.answer_correct("North Korea\u2019s weapons tests [1]", ["North Korea's weapons tests"], abstained=False)


def test_abstained_answer_is_wrong_even_if_it_contains_the_answer():
    assert not M.answer_correct("Washington", ["Washington"], abstained=True)
    assert not M.answer_correct("", ["Washington"], abstained=False)
    assert not M.answer_correct(None, ["Washington"], abstained=False)


def test_long_dumps_do_not_count():
    short = "They met in Washington. [1]"
    long = " ".join(["word"] * 59) + " in Washington [1]"  # 61 words, the marker aside
    assert M.answer_correct(short, ["Washington"], abstained=False)
    assert not M.answer_correct(long, ["Washington"], abstained=False)
    assert M.answer_correct(long, ["Washington"], abstained=False, max_words=61)
    # markers are not words: exactly 60 words plus markers still counts
    sixty = " ".join(["word"] * 59) + " Washington [1] [2]"
    assert M.answer_correct(sixty, ["Washington"], abstained=False)


def test_short_answer_both_directions():
    assert M.short_answer_correct("Defense Secretary Lloyd Austin", ["Lloyd Austin"])  # gold in short
    assert M.short_answer_correct("Austin", ["Lloyd Austin"])  # short in gold
    assert M.short_answer_correct("december 2023", ["December 2023"])
    assert not M.short_answer_correct("Kurt Campbell", ["Lloyd Austin"])
    assert not M.short_answer_correct(None, ["Lloyd Austin"])
    assert not M.short_answer_correct("  ", ["Lloyd Austin"])
    # a fragment of a word is not an answer
    assert not M.short_answer_correct("a", ["Lloyd Austin"])


# ---- citations ------------------------------------------------------------------------------
def test_citation_supports_needs_gold_article_and_answer():
    assert M.citation_supports("doc-a", "Held in Washington.", GOLD, ["Washington"])
    assert not M.citation_supports("doc-b", "Held in Washington.", GOLD, ["Washington"])  # wrong article
    assert not M.citation_supports("doc-a", "Held in Tokyo.", GOLD, ["Washington"])  # no answer in quote


def test_count_supporting():
    cits = [("doc-a", "Held in Washington."), ("doc-a", "It rained."), ("doc-b", "Washington again.")]
    assert M.count_supporting(cits, GOLD, ["Washington"]) == (1, 3)
    assert M.count_supporting([], GOLD, ["Washington"]) == (0, 0)


def test_citation_precision_is_micro_averaged():
    assert M.citation_precision([(1, 1), (1, 3)]) == pytest.approx(2 / 4)
    assert M.citation_precision([(0, 2)]) == 0.0
    assert M.citation_precision([(0, 0)]) is None


def test_citation_recall_counts_only_correct_answers():
    # (answer correct, supporting citations)
    assert M.citation_recall([(True, 1), (True, 0), (False, 0), (False, 2)]) == 0.5
    assert M.citation_recall([(True, 2)]) == 1.0
    assert M.citation_recall([(False, 1)]) is None


# ---- aggregation ----------------------------------------------------------------------------
def test_mean_and_percentile():
    assert M.mean([True, False, True, True]) == 0.75
    assert M.mean([]) is None
    assert M.percentile([1, 2, 3, 4, 5], 50) == 3
    assert M.percentile([10, 20], 50) == 15
    assert M.percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert M.percentile([7], 95) == 7
    assert M.percentile([], 50) is None
    with pytest.raises(ValueError):
        M.percentile([1], 101)


def test_abstention_rates():
    rows = [
        {"answerable": False, "abstained": True},
        {"answerable": False, "abstained": False},
        {"answerable": True, "abstained": True},
        {"answerable": True, "abstained": False},
        {"answerable": True, "abstained": False},
        {"answerable": True, "abstained": False},
    ]
    r = M.abstention_rates(rows)
    assert r["unanswerable_abstained"] == 0.5
    assert r["answerable_wrongly_abstained"] == 0.25


# ---- threshold calibration ------------------------------------------------------------------
def _row(answerable, conf, correct=False, raw_abstained=False):
    return {"answerable": answerable, "confidence": conf, "raw_correct": correct, "raw_abstained": raw_abstained}


ROWS = [
    _row(True, 0.9, True), _row(True, 0.8, True), _row(True, 0.6, False), _row(True, 0.3, True),
    _row(False, 0.7), _row(False, 0.4), _row(False, 0.2), _row(False, 0.0, raw_abstained=True),
]


def test_abstains_at_is_strictly_below():
    assert M.abstains_at(0.49, 0.5)
    assert not M.abstains_at(0.5, 0.5)
    assert M.abstains_at(0.9, 0.0, abstained_anyway=True)


def test_sweep_point():
    p = M.sweep_point(ROWS, 0.5)
    assert p["unanswerable_abstained"] == 0.75  # 0.4, 0.2 and the one with no passages
    assert p["answerable_wrongly_abstained"] == 0.25  # the 0.3 one
    assert p["accuracy"] == 0.5  # 0.9 and 0.8 answered right; 0.6 answered wrong; 0.3 abstained
    assert p["overall_correct"] == pytest.approx(5 / 8)
    p0 = M.sweep_point(ROWS, 0.0)
    assert p0["unanswerable_abstained"] == 0.25 and p0["answerable_wrongly_abstained"] == 0.0
    assert p0["accuracy"] == 0.75


def test_threshold_grid():
    g = M.threshold_grid()
    assert g[0] == 0.0 and g[-1] == 0.95 and len(g) == 20


def test_recommend_threshold_respects_the_constraint_and_prefers_the_lowest():
    points = M.sweep(ROWS, [0.0, 0.1, 0.25, 0.3, 0.5, 0.75])
    # wrongly abstained stays 0 up to 0.3 (the answerable 0.3 is kept at t=0.3); at 0.25 and 0.3
    # the unanswerable share is the same (0.2 and 0.0 abstain): tie -> lowest
    assert M.recommend_threshold(points, 0.0) == 0.25
    # allowing a quarter of answerable questions to be lost buys 0.4 as well
    assert M.recommend_threshold(points, 0.25) == 0.5
    points_none = [{"threshold": 0.1, "unanswerable_abstained": 1.0, "answerable_wrongly_abstained": 0.5}]
    assert M.recommend_threshold(points_none, 0.05) is None

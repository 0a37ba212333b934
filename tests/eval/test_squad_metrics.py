"""SQuAD 2.0 scoring (the official normalisation, EM, F1) and the open-setting summary."""
import pytest

from eval import squad_metrics as sm


def test_normalize_matches_the_official_script():
    assert sm.normalize("The  Normans!") == "normans"
    assert sm.normalize("an apple, a pear") == "apple pear"


def test_exact_and_f1():
    assert sm.exact("the 10th century", "10th century") == 1.0
    assert sm.f1("in the 10th century", "10th and 11th centuries") == pytest.approx(2 / 7)  # P 1/3, R 1/4
    assert sm.f1("", "") == 1.0 and sm.f1("x", "") == 0.0
    # best over golds; an unanswerable question's gold is the empty answer
    assert sm.best_over(sm.exact, "France", ["Normandy", "France"]) == 1.0
    assert sm.best_over(sm.f1, "", []) == 1.0 and sm.best_over(sm.f1, "something", []) == 0.0


def test_contains_is_on_word_boundaries_and_bounded():
    assert sm.contains("They settled in France in 911 [1]", ["France"])
    assert not sm.contains("Francesca wrote it [1]", ["France"])
    assert not sm.contains(" ".join(["word"] * 70) + " France", ["France"], max_words=60)


def test_open_row_and_summary():
    q_ans = {"id": "a", "article": "X", "answerable": True, "answers": ["911"]}
    q_neg = {"id": "b", "article": "X", "answerable": False, "answers": []}
    resp_ans = {"abstained": False, "answer": "It was 911. [1]", "short_answer": "911", "confidence": 0.9,
                "passages": [{"text": "In 911 the treaty", "title": "X"}]}
    resp_neg = {"abstained": True, "answer": "The articles do not say.", "short_answer": None, "confidence": 0.1,
                "passages": [{"text": "nothing"}]}
    rows = [sm.open_row(q_ans, resp_ans, 10.0), sm.open_row(q_neg, resp_neg, 20.0)]
    s = sm.open_summary(rows)
    assert s["contains"] == 1.0 and s["short_em"] == 1.0 and s["noans"] == 1.0
    assert s["false_abstain"] == 0.0 and s["overall"] == 1.0 and s["ev5"] == 1.0 and s["hit1"] == 1.0
    # an unanswerable question answered counts against overall
    rows[1] = sm.open_row(q_neg, resp_ans, 20.0)
    assert sm.open_summary(rows)["overall"] == 0.5


def _rows(pos, neg):
    return ([{"answerable": True, "confidence": c} for c in pos]
            + [{"answerable": False, "confidence": c} for c in neg])


def test_separability_auc_counts_ties_half_and_is_threshold_free():
    assert sm.separability(_rows([0.9, 0.8], [0.1, 0.2]))["auc"] == 1.0
    assert sm.separability(_rows([0.1, 0.2], [0.9, 0.8]))["auc"] == 0.0
    assert sm.separability(_rows([0.5], [0.5]))["auc"] == 0.5
    # 3 of the 4 (pos, neg) pairs are in order; one negative outranks one answerable question
    assert sm.separability(_rows([0.3, 0.9], [0.1, 0.5]))["auc"] == 0.75


def test_separability_noans_at_a_false_abstention_cap():
    pos = [i / 20 for i in range(1, 21)]  # 20 answerable: 0.05 … 1.0
    neg = [0.02, 0.04, 0.06, 0.12, 0.5]
    s = sm.separability(_rows(pos, neg), caps=(0.0, 0.10))
    # no answerable question abstained: only the negatives below 0.05
    assert s["noans_at_fa_0.00"] == pytest.approx(2 / 5)
    # two answerable questions (0.05, 0.10) may be abstained on: the threshold is 0.15
    assert s["noans_at_fa_0.10"] == pytest.approx(4 / 5)
    assert sm.separability(_rows(pos, []))["auc"] is None


def test_overlap_counts_shared_stemmed_content_words():
    sent = "The Normans conquered England in 1066 after the Battle of Hastings."
    assert sm.overlap("When did the Normans conquer England?", sent) == 3  # normans, conquer, england
    assert sm.overlap("In what year was the island taken over?", sent) == 0
    assert [sm.overlap_bin(n) for n in (0, 1, 2, 3, 4, 9)] == ["0-1", "0-1", "2", "3", "4+", "4+"]


def test_by_overlap_bins_only_answerable_questions():
    rows = [{"answerable": True, "overlap": 0, "contains": False, "abstained": True, "ev5": True},
            {"answerable": True, "overlap": 1, "contains": True, "abstained": False, "ev5": True},
            {"answerable": True, "overlap": 5, "contains": True, "abstained": False, "ev5": True},
            {"answerable": False, "overlap": None, "contains": False, "abstained": True, "ev5": False}]
    bins = sm.by_overlap(rows)
    assert bins["0-1"] == {"questions": 2, "contains": 0.5, "false_abstain": 0.5, "ev5": 1.0}
    assert bins["4+"]["questions"] == 1 and bins["2"]["questions"] == 0 and bins["2"]["contains"] is None


def test_questions_carry_overlap_with_their_answer_sentence():
    from eval import squad

    ctx = "Paris is the capital of France. It lies on the Seine river."
    art = {"title": "Paris", "paragraphs": [{"context": ctx, "qas": [
        {"id": "a", "question": "Which river does it lie on?", "answers": [{"text": "Seine", "answer_start": 48}]},
        {"id": "b", "question": "What is Paris the capital of?", "is_impossible": True, "answers": []}]}]}
    qa, qb = squad.questions([art])
    assert squad.answer_sentence(ctx, {"text": "Seine", "answer_start": 48}) == "It lies on the Seine river."
    assert qa["overlap"] == 2 and qb["overlap"] is None  # river, lie

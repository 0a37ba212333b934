"""The second stage's gate fit (training/reader/gate.py) on made-up rows with a known best band."""
from __future__ import annotations

import numpy as np

from service.answerers.reader.gate import Gate
from training.reader.gate import fit_gate, outcomes, search


def _data(n=2000, seed=0):
    """First stage right when p1 is high; in the middle band only the second stage is right, and it
    knows (p2 high) when; unanswerable questions sit low on both."""
    rng = np.random.default_rng(seed)
    answerable = rng.random(n) < 0.5
    p1 = np.where(answerable, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.6, n))
    middle = (p1 >= 0.3) & (p1 < 0.6)
    right1 = answerable & (p1 >= 0.6)
    right2 = answerable & middle
    p2 = np.where(right2, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.4, n))
    return p1, p2, right1, right2, answerable


def test_the_search_finds_the_band_where_only_the_second_stage_is_right():
    p1, p2, r1, r2, ans = _data()
    low, high, t2 = search(p1, p2, r1, r2, ans, max_false_abstain=0.2, budget=1.0)
    assert 0.25 <= low <= 0.35 and 0.55 <= high <= 0.65 and 0.35 <= t2 <= 0.6
    got = outcomes(p1, p2, r1, r2, ans, low, high, t2)
    alone = outcomes(p1, p2, r1, r2, ans, 0.6, 0.6, t2)  # nothing re-read: the first stage at 0.6
    assert got["reread"] > 0 and alone["reread"] == 0
    assert got["overall_balanced"] > alone["overall_balanced"] + 0.1


def test_the_budget_caps_the_share_re_read_and_zero_is_the_first_stage_alone():
    p1, p2, r1, r2, ans = _data()
    for budget in (0.1, 0.2):
        low, high, t2 = search(p1, p2, r1, r2, ans, max_false_abstain=0.5, budget=budget)
        assert outcomes(p1, p2, r1, r2, ans, low, high, t2)["reread"] <= budget
    low, high, _ = search(p1, p2, r1, r2, ans, max_false_abstain=0.5, budget=0.0)
    assert low == high


def test_fit_gate_writes_what_the_answerer_reads_and_cross_validates_by_article():
    rng = np.random.default_rng(1)
    rows = []
    for i in range(600):
        answerable = i % 2 == 0
        m1 = rng.normal(3 if answerable else -2, 2)
        first_right = answerable and m1 > 4
        second_right = answerable and 1 < m1 <= 4
        m2 = rng.normal(4 if second_right else -1, 1)
        gold = f"answer{i}"
        rows.append({"article": f"a{i % 10}", "answerable": answerable, "golds": [gold] if answerable else [],
                     "first_answer": f"the {gold} it read" if first_right else "something else",
                     "right": second_right or first_right and m1 > 6,
                     "margin1": m1, "score1": m1 + 5, "null1": 5.0, "dense1": 0.5,
                     "margin": m2, "score": m2 + 5, "null": 5.0, "dense": 0.5})
    fitted = fit_gate(rows, max_false_abstain=0.3, budget=0.5)
    gate = Gate.from_dict(fitted["gate"])
    assert gate is not None and set(dict(gate.weights)) == {"margin", "score", "null", "dense"}
    assert fitted["cv"]["reread"] <= 0.6 and fitted["in_sample"]["reread"] <= 0.5
    assert fitted["cv"]["overall_balanced"] > 0.6
    assert set(fitted["weights"]) == {"margin", "score", "null", "dense", "margin1"}
    # a sure first-stage answer is not re-read; a sure no-answer is abstained on
    assert gate.route(gate.probability({"margin": 12.0, "score": 17.0, "null": 5.0, "dense": 0.5})) == "answer"
    assert gate.route(gate.probability({"margin": -8.0, "score": -3.0, "null": 5.0, "dense": 0.5})) == "abstain"

"""The gate's routing (service/answerers/reader/gate.py): pure."""
from service.answerers.reader.gate import Gate


def test_a_fit_without_a_gate_re_reads_every_question():
    assert Gate.from_dict(None) is None and Gate.from_dict({"weights": {"margin": 1.0}}) is None


def test_below_the_band_abstains_above_it_answers_inside_it_re_reads():
    gate = Gate.from_dict({"weights": {"margin": 1.0}, "b": 0.0, "low": 0.2, "high": 0.8})
    assert gate.probability({"margin": 0.0}) == 0.5
    assert [gate.route(p) for p in (0.1, 0.2, 0.5, 0.8, 0.95)] == ["abstain", "reread", "reread", "answer", "answer"]

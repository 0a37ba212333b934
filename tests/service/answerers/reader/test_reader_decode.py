"""Span decoding and answer shaping of the reader: pure functions, no model."""
import numpy as np

from service.answerers.reader.answerer import ReaderCalibration, holding_sentences, narrow
from service.answerers.reader.decode import Span, best_per_passage, best_span, window_span


def _logits(n, start_at=None, end_at=None, hi=5.0):
    s, e = np.zeros(n), np.zeros(n)
    if start_at is not None:
        s[start_at] = hi
    if end_at is not None:
        e[end_at] = hi
    return s, e


def test_best_span_respects_context_order_and_length():
    s, e = _logits(10, 6, 8)
    ctx = np.array([False] * 4 + [True] * 6)
    assert best_span(s, e, ctx) == (6, 8, 10.0)
    # an end before the start is never paired
    s, e = _logits(10, 8, 6)
    i, j, _ = best_span(s, e, ctx)
    assert i <= j
    # the question's tokens (outside the context) never hold the answer
    s, e = _logits(10, 1, 2, hi=50.0)
    i, j, _ = best_span(s, e, ctx)
    assert i >= 4 and j >= 4
    # spans longer than max_tokens are not allowed
    s, e = _logits(10, 4, 9)
    i, j, _ = best_span(s, e, ctx, max_tokens=3)
    assert j - i + 1 <= 3


def test_best_span_without_context_is_none():
    s, e = _logits(5, 1, 2)
    assert best_span(s, e, np.zeros(5, dtype=bool)) is None


def test_window_span_maps_tokens_to_characters_and_margin():
    s, e = _logits(6, 3, 4, hi=4.0)
    s[0] = e[0] = 1.0  # the no-answer score at [CLS]: 2
    offsets = np.array([(0, 0), (0, 0), (0, 0), (10, 15), (16, 20), (0, 0)])
    ctx = np.array([False, False, False, True, True, False])
    sp = window_span(s, e, offsets, ctx, passage=2)
    assert (sp.passage, sp.start, sp.end) == (2, 10, 20)
    assert sp.score == 8.0 and sp.null == 2.0 and sp.margin == 6.0


def test_best_per_passage_keeps_the_best_window_of_each():
    spans = [Span(0, 0, 1, 1, 0, 1.0), Span(0, 5, 6, 3, 0, 3.0), Span(1, 0, 2, 2, 0, 2.0)]
    out = best_per_passage(spans)
    assert [(s.passage, s.margin) for s in out] == [(0, 3.0), (1, 2.0)]


def test_calibration_is_monotone_and_thresholds():
    cal = ReaderCalibration(weights=(("margin", 0.8),), b=-1.0, threshold=0.5)
    assert cal.probability(-3) < cal.probability(0) < cal.probability(3)
    assert cal.probability(1.25) == 0.5
    two = ReaderCalibration.from_dict({"weights": {"margin": 1.0, "dense": 2.0}, "b": -1.0, "threshold": 0.4})
    assert two.probability(1.0, dense=0.5) > two.probability(1.0, dense=0.0)
    assert two.with_threshold(0.9).threshold == 0.9


def test_holding_sentences_and_narrow():
    class S:
        def __init__(self, a, b):
            self.start, self.end = a, b

    sents = [S(20, 40), S(0, 19), S(41, 60)]
    assert [(s.start, s.end) for s in holding_sentences(sents, 15, 25)] == [(0, 19), (20, 40)]
    text = " ".join(f"w{i}" for i in range(100))
    at = text.index("w50")
    a, b = narrow(text, at, at + 3, 10)
    piece = text[a:b]
    assert "w50" in piece and len(piece.split()) == 10
    assert text[a:b] == piece  # an exact slice

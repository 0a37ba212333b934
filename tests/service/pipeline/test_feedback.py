"""Pseudo-relevance feedback: the fourth ranking of the retriever."""
import numpy as np
import pytest

from index.stores.sqlite.store import SentenceRow
from service.pipeline.retrieval import feedback_terms
from tests.conftest import make_settings


def _s(*terms):
    return SentenceRow("d", 0, 1, np.zeros(3, dtype=np.float32), frozenset(terms))


def test_feedback_terms_rank_by_tf_idf_and_skip_question_terms_and_numbers():
    sents = [_s("park", "brief", "counterpart", "korea"), _s("park", "vice", "korea", "2023"), _s("korea", "deterr")]
    df = {"park": 2, "brief": 1, "counterpart": 1, "korea": 90, "vice": 3, "deterr": 5}
    out = feedback_terms(sents, exclude={"brief"}, df=df, n=100, k=3)
    assert out[0] == "park"            # twice, and rare
    assert "brief" not in out and "2023" not in out
    assert "korea" not in out          # three times, but in 90 of 100 sentences
    assert feedback_terms([], set(), {}, 10, 5) == []


@pytest.fixture(scope="module")
def engine_without_feedback(seed_index_dir, embedder):
    from service.engine import Engine

    engine = Engine.load(make_settings(seed_index_dir, feedback_weight=0), embedder=embedder)
    yield engine
    engine.close()


Q = "What did the South Korean deputy minister inform the American and Japanese envoys about during the Tokyo meeting?"
EVIDENCE = "Park briefed his counterparts on Seoul’s diplomatic efforts to de-escalate tensions"


def test_feedback_brings_the_passage_worded_unlike_the_question(seed_engine, engine_without_feedback):
    # measured: without feedback this passage ranks 9th; the question shares almost no words with it
    assert not any(EVIDENCE in p.text for p in engine_without_feedback.search(Q, top_k=5).results)
    assert any(EVIDENCE in p.text for p in seed_engine.search(Q, top_k=5).results)


def test_feedback_respects_filters(seed_engine):
    doc = next(d for d in seed_engine.documents() if "Camp David" not in d.title and d.date is None)
    from service.schemas import Filters
    res = seed_engine.search(Q, top_k=5, filters=Filters(doc_ids=[doc.doc_id])).results
    assert res and {p.doc_id for p in res} == {doc.doc_id}


def test_best_sentence_ranking_scores_shared_sentences_once():
    from service.pipeline.retrieval import best_sentence_ranking

    def row(start, vec):
        return SentenceRow("d", start, start + 1, np.asarray(vec, dtype=np.float32), frozenset())

    a, b, c = row(0, [1, 0]), row(5, [0.6, 0.8]), row(9, [0, 1])
    q = np.asarray([0.8, 0.6], dtype=np.float32)
    # chunk 2 shares sentence b with chunk 1 (overlap); chunk 3 has no sentences
    assert best_sentence_ranking({1: [a, b], 2: [b, c], 3: []}, q) == [1, 2]
    assert best_sentence_ranking({}, q) == []

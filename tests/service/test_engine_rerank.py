"""The reranking stage inside the engine, on the real seed index and model."""
import pytest

from tests.conftest import make_settings


@pytest.fixture(scope="module")
def fused_engine(seed_index_dir, embedder):
    from service.engine import Engine

    engine = Engine.load(make_settings(seed_index_dir, rerank=False), embedder=embedder)
    yield engine
    engine.close()


Q = "Why is the Camp David meeting seen as the first standalone gathering of the United States, South Korea and Japan?"


def test_reranked_passages_are_the_fused_ones_reordered(seed_engine, fused_engine):
    fused = fused_engine.search(Q, top_k=5).results
    reranked = seed_engine.search(Q, top_k=5).results
    assert {p.chunk_id for p in reranked} == {p.chunk_id for p in fused}
    assert [p.score for p in reranked] == sorted((p.score for p in reranked), reverse=True)


def test_the_passage_quoted_by_the_heuristic_answer_is_listed_first(extractive_engine, fused_engine):
    # fusion alone puts the Camp David summit passage of another article first (measured)
    assert "sidelines of international meetings" not in fused_engine.ask(Q).passages[0].text
    r = extractive_engine.ask(Q)
    assert not r.abstained and "sidelines of international meetings" in r.answer
    assert r.passages[0].chunk_id == r.citations[0].chunk_id
    assert r.citations[0].quote in r.passages[0].text


def test_the_passage_the_reader_answers_from_is_listed_first(seed_engine):
    r = seed_engine.ask("When did real-time missile-data sharing start?")
    assert not r.abstained
    assert r.passages[0].chunk_id == r.citations[0].chunk_id
    assert r.citations[0].quote in r.passages[0].text

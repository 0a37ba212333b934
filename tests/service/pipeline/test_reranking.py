import numpy as np

from index.stores.sqlite.store import ChunkRow, SentenceRow
from service.pipeline.reranking import SentenceReranker, rerank
from service.pipeline.retrieval import Hit


def _hit(rank: int, doc: str, starts: list[int]) -> Hit:
    chunk = ChunkRow(id=rank, chunk_id=f"{doc}#{rank}", doc_id=doc, ord=rank, start=starts[0], end=starts[-1] + 10)
    sents = [SentenceRow(doc_id=doc, start=s, end=s + 10, vector=np.zeros(3, dtype=np.float32), terms=frozenset())
             for s in starts]
    return Hit(row_id=rank, chunk=chunk, score=1.0 / (rank + 1), rank=rank, sentences=sents)


def test_passage_with_the_best_sentence_comes_first():
    hits = [_hit(0, "a", [0, 20]), _hit(1, "b", [0]), _hit(2, "c", [0])]
    out = rerank(hits, {("a", 0): 0.5, ("a", 20): 0.6, ("b", 0): 0.9, ("c", 0): 0.1}, prior=0.05)
    assert [h.chunk.doc_id for h in out] == ["b", "a", "c"]
    assert [h.rank for h in out] == [0, 1, 2]
    assert out[0].score > out[1].score > out[2].score


def test_prior_breaks_near_ties_in_fusion_order():
    hits = [_hit(0, "a", [0]), _hit(1, "b", [0])]
    scores = {("a", 0): 0.80, ("b", 0): 0.81}
    assert [h.chunk.doc_id for h in rerank(hits, scores, prior=0.05)] == ["a", "b"]   # 0.85 vs 0.835
    assert [h.chunk.doc_id for h in rerank(hits, scores, prior=0.0)] == ["b", "a"]


def test_passage_without_scored_sentences_sinks_and_input_is_untouched():
    hits = [_hit(0, "a", [0]), _hit(1, "b", [0])]
    out = rerank(hits, {("b", 0): 0.2})
    assert [h.chunk.doc_id for h in out] == ["b", "a"]
    assert hits[0].rank == 0 and hits[0].chunk.doc_id == "a"


def test_reranker_calls_its_scorer_once_and_skips_single_passages():
    calls = []

    def scorer(q, v, hits):
        calls.append(len(hits))
        return {("b", 0): 1.0}

    r = SentenceReranker(scorer)
    one = [_hit(0, "a", [0])]
    assert r.run("q", np.zeros(3), one) == one and calls == []
    assert r.run("q", np.zeros(3), [_hit(0, "a", [0]), _hit(1, "b", [0])])[0].chunk.doc_id == "b"
    assert calls == [2]

"""The query encoder's bulk lane (uploads): questions overtake it, and under a steady stream of
questions it still moves, taking its share of the time instead of stalling per slice."""
from __future__ import annotations

import time

import numpy as np

from service.pipeline.encoder import QueryEncoder

TEXTS = [f"Sentence number {i} of an uploaded article about missile warning data." for i in range(48)]


def test_bulk_vectors_are_the_models_own(embedder):
    enc = QueryEncoder(embedder, bulk_slice=8)
    try:
        got = enc.encode_bulk(TEXTS)
    finally:
        enc.close()
    assert got.shape == (len(TEXTS), embedder.dim)
    assert float(np.min(np.sum(got * embedder.encode(TEXTS, progress=False), axis=1))) > 0.99


def test_slices_of_a_batch_give_an_upload_the_vectors_ingest_gives_it(embedder):
    """Texts of mixed lengths in document order (chunks, then sentences, as an upload prepares them):
    sliced longest first, a slice is the very batch one call of `citeqa ingest` runs. In document
    order the int8 model's per-batch scales move vectors (cosine down to ~0.98 on a long article)."""
    import random

    rng = random.Random(3)
    words = "the ministers agreed to share missile warning data in real time from December".split()
    texts = [" ".join(rng.choices(words, k=rng.randint(3, 120))) for _ in range(70)]
    spans = [[(0, min(len(t), 20))] for t in texts]
    enc = QueryEncoder(embedder, bulk_slice=embedder.batch_size)
    try:
        bulk = enc.encode_bulk(texts)
        late, late_spans = enc.encode_spans_bulk(texts, spans)
    finally:
        enc.close()
    one_call = embedder.encode(texts, progress=False)
    assert np.allclose(bulk, one_call, atol=1e-5)
    ref, ref_spans = embedder.encode_spans(texts, spans)
    assert np.allclose(late, ref, atol=1e-5)
    assert all(np.allclose(a[0], b[0], atol=1e-5) for a, b in zip(late_spans, ref_spans))


def test_a_service_embedder_answers_on_one_thread_and_uploads_on_all(seed_settings):
    from index.embedding.embedder import cores
    from service.engine import Engine

    for workers in (1, 2):  # server processes share the cores out
        engine = Engine.load(seed_settings.model_copy(update={"workers": workers}))
        try:
            onnx = engine.embedder._onnx
            bulk = max(1, cores() // workers)
            assert onnx.session.get_session_options().intra_op_num_threads == 1 and onnx.workers == bulk
            engine.encoder.encode_bulk(TEXTS[:4])  # one batch: the bulk session
            if bulk > 1:
                assert onnx._wide.get_session_options().intra_op_num_threads == bulk
        finally:
            engine.close()

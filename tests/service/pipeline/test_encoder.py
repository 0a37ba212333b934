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


def test_an_upload_keeps_moving_while_questions_are_always_in_flight(embedder):
    enc = QueryEncoder(embedder, bulk_slice=8, bulk_share=0.5)
    enc.max_yield_s = 5.0  # a lane that waited the whole yield per slice would need > 25 s here
    try:
        enc.encode_bulk(TEXTS[:8])  # warm
        t0 = time.monotonic()
        alone = enc.encode_bulk(TEXTS)
        work = time.monotonic() - t0
        enc.ask_started()  # a question in flight the whole time
        t0 = time.monotonic()
        busy = enc.encode_bulk(TEXTS)
        waited = time.monotonic() - t0
        enc.ask_done()
    finally:
        enc.close()
    assert np.allclose(alone, busy, atol=1e-5)
    # half the time to the bulk lane: about twice the work, far below one yield per slice
    assert waited < 3 * work + 2.0, (waited, work)

"""eval.bench.milvus_recall for real on Milvus' engine (milvus-lite 2.5.1), at a size it searches
exactly, and the clustered vectors it writes."""
from __future__ import annotations

import numpy as np
import pytest

from eval.bench.store import ClusteredEncoder, RandomEncoder

pytest.importorskip("milvus_lite")


def test_clustered_vectors_are_unit_and_near_their_centres():
    enc = ClusteredEncoder(seed=3, k=50)
    v = enc.encode(["x"] * 2000)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    to_centre = (v @ enc.centres.T).max(axis=1)
    assert 0.6 < float(np.median(to_centre)) < 0.8  # as a text embedding is to its topic's mean
    r = RandomEncoder(seed=3).encode(["x"] * 2000)
    assert float(np.median((r @ enc.centres.T).max(axis=1))) < 0.3  # random vectors have no such centres


def test_a_small_collection_is_searched_exactly_grown_or_sealed():
    from eval.bench.milvus_recall import run

    r = run(2000, [4, 16], 10, "clustered", batch=500)
    assert r["rows"] == 2000 and r["write_rows_per_s"] > 0
    assert [(s["segments"], s["nprobe"]) for s in r["sweep"]] == [("growing", 4), ("growing", 16),
                                                                  ("sealed", 4), ("sealed", 16)]
    # 2,000 rows sit in segments small enough to be searched by brute force: exact whatever nprobe
    assert all(s["recall_at_30"] == 1.0 for s in r["sweep"])

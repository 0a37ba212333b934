import numpy as np
import pytest

from index.stores.sqlite.vectors import DenseIndex, resolve_factory


def unit(n, d, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat", "IVF8,Flat"])
def test_search_finds_itself_and_honours_the_id_filter(factory):
    v = unit(500, 16)
    ids = np.arange(500, dtype=np.int64) * 3 + 7
    idx = DenseIndex.build(16, factory, ids, v)
    scores, found = idx.search(v[42], 5)
    assert found[0] == ids[42] and scores[0] == pytest.approx(1.0, abs=1e-4)
    allowed = ids[[1, 2, 3]]
    _, found = idx.search(v[42], 5, allowed=allowed)
    assert set(found) <= set(allowed.tolist())
    assert len(idx.search(v[0], 5, allowed=np.zeros(0, np.int64))[1]) == 0


def test_remove_and_add_for_flat_and_rebuild_signal_for_hnsw():
    v = unit(100, 8)
    ids = np.arange(100, dtype=np.int64)
    flat = DenseIndex.build(8, "Flat", ids, v)
    flat.remove(np.array([5]))
    assert flat.ntotal == 99 and 5 not in flat.search(v[5], 3)[1]
    flat.add(np.array([500]), v[5:6])
    assert flat.search(v[5], 1)[1][0] == 500
    assert not DenseIndex.build(8, "HNSW32,Flat", ids, v).supports_remove


def test_save_is_atomic_and_loads_back(tmp_path):
    v = unit(50, 8)
    idx = DenseIndex.build(8, "Flat", np.arange(50), v)
    path = tmp_path / "dense.faiss"
    idx.save(path)
    assert not list(tmp_path.glob("*.tmp"))
    back = DenseIndex.load(path)
    assert back.ntotal == 50 and back.search(v[3], 1)[1][0] == 3


def test_auto_factory_switches_to_ivf_sq8_past_the_threshold():
    assert resolve_factory("auto", 10, 1000) == "Flat"
    assert resolve_factory("auto", 1_000_000, 50_000) == "IVF1024,SQ8"
    assert resolve_factory("auto", 60_000, 50_000) == "IVF256,SQ8"
    assert resolve_factory("IVF64,SQ8", 10, 1000) == "IVF64,SQ8"


@pytest.mark.parametrize("factory", ["Flat", "IVF16,SQ8", "HNSW32,Flat"])
def test_a_loaded_index_knows_its_factory(tmp_path, factory):
    v = unit(2000, 16)
    DenseIndex.build(16, factory, np.arange(2000), v).save(tmp_path / "d.faiss")
    assert DenseIndex.load(tmp_path / "d.faiss").factory == factory


def test_hybrid_index_moves_to_ivf_when_the_corpus_grows_past_the_threshold(index_copy, embedder):
    from index.stores.sqlite.index import HybridIndex
    from index.text.loading import make_document

    idx = HybridIndex(index_copy, embedder, ann_threshold=35, for_writing=True)
    assert idx.dense.factory == "Flat"  # 33 chunks
    docs = [make_document(f"extra{i}", f"Extra headline {i}\n\n" + " ".join(
        f"Sentence {j} of extra article {i} talks about port security in Busan." for j in range(12)))
        for i in range(3)]
    idx.apply(idx.prepare(docs, progress=False), [])
    assert idx.dense.factory.startswith("IVF") and idx.dense.ntotal == idx.store.counts()["chunks"]
    idx.apply([], ["extra0"])  # deletes in place
    assert idx.dense.ntotal == idx.store.counts()["chunks"]
    q = embedder.encode(["port security in Busan"])[0]
    assert idx.search_dense(q, 3)

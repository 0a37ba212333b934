"""Dense vector index over chunk ids: FAISS, inner product on normalized vectors (= cosine).

The index type is a FAISS factory string. "auto" keeps exact search (Flat) for small corpora and
switches to IVF with 8-bit scalar quantization past a size. Chosen from `citeqa bench --part growth`
(README): at 1M vectors Flat takes 70 ms a query and 1.5 GB, HNSW32 1.7 GB at recall@10 0.89 and
cannot delete (every write would rebuild it: 2 min), IVF1024,SQ8 0.6 ms, 383 MB, recall 0.99, and
it adds and deletes in place.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faiss
import numpy as np


def resolve_factory(factory: str, n_vectors: int, ann_threshold: int) -> str:
    if factory != "auto":
        return factory
    if n_vectors < ann_threshold:
        return "Flat"
    # about sqrt(N) lists, a power of two, with >= 39 training points per list (FAISS's minimum)
    nlist = 2 ** round(np.log2(max(n_vectors, 1) ** 0.5))
    nlist = int(max(1, min(nlist, 65536, n_vectors // 39)))
    return f"IVF{nlist},SQ8"


def describe(index: faiss.Index) -> str:
    """The factory string of a loaded index (the part after IDMap2)."""
    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    if hasattr(inner, "hnsw"):
        return f"HNSW{inner.hnsw.nb_neighbors(1)},Flat"
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf = faiss.downcast_index(ivf)
        code = "SQ8" if isinstance(ivf, faiss.IndexIVFScalarQuantizer) else \
            f"PQ{ivf.pq.M}" if isinstance(ivf, faiss.IndexIVFPQ) else "Flat"
        return f"IVF{ivf.nlist},{code}"
    return "Flat"


class DenseIndex:
    def __init__(self, dim: int, factory: str = "Flat", ef_search: int = 64, nprobe: int = 16):
        self.dim = dim
        self.factory = factory
        self.ef_search = ef_search
        self.nprobe = nprobe
        self.index = faiss.index_factory(dim, f"IDMap2,{factory}", faiss.METRIC_INNER_PRODUCT)
        self._tune()

    @classmethod
    def build(cls, dim: int, factory: str, ids: np.ndarray, vecs: np.ndarray, **kw) -> "DenseIndex":
        idx = cls(dim, factory, **kw)
        if len(ids):
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is batch work: use every core
            if not idx.index.is_trained:
                idx.index.train(vecs)
            idx.index.add_with_ids(vecs, ids.astype(np.int64))
        return idx

    def _tune(self) -> None:
        inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
        if hasattr(inner, "hnsw"):
            inner.hnsw.efSearch = self.ef_search
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None:
            ivf.nprobe = self.nprobe

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def supports_remove(self) -> bool:
        inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
        return not hasattr(inner, "hnsw")

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(ids.astype(np.int64)))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query vector; `allowed` restricts to those ids."""
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            sel = faiss.IDSelectorBatch(allowed.astype(np.int64))
            if faiss.try_extract_index_ivf(self.index) is not None:  # IVF wants its own params type
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        # One query is too small to split: FAISS's OpenMP threads would only fight the model's
        # threads for the two cores (bench: dense p95 4.4 ms on all threads, 0.18 ms on one).
        faiss.omp_set_num_threads(1)
        scores, ids = self.index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        """Atomic: written to a temporary file in the same folder, fsynced, then renamed."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, ef_search: int = 64, nprobe: int = 16) -> "DenseIndex":
        obj = cls.__new__(cls)
        obj.index = faiss.read_index(str(path))
        obj.dim = obj.index.d
        obj.factory = describe(obj.index)
        obj.ef_search = ef_search
        obj.nprobe = nprobe
        obj._tune()
        return obj

"""The persisted hybrid index: SQLite store (truth, BM25) + FAISS (dense cache), one write path.

Used by `citeqa ingest` and by the service's document endpoints alike, so both are incremental,
atomic and leave the same files behind.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from index.config import StoreConfig
from index.stores.sqlite import integrity
from index.embedding.embedder import Embedder
from index.stores.manifest import check_compatible, expected_manifest, late_sentences_for, write_json_atomic
from index.preparing import Bundle, Preparer, embed_text_for
from index.stores.sqlite.store import IndexReadOnly, Store
from index.stores.sqlite.vectors import DenseIndex, resolve_factory

log = logging.getLogger(__name__)

DB_NAME = "citeqa.sqlite3"


class HybridIndex(Preparer):
    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        chunk_tokens: int = 160,
        chunk_overlap: int = 1,
        faiss_factory: str = "auto",
        ann_threshold: int = 200_000,
        ef_search: int = 64,
        nprobe: int = 16,
        create: bool = False,
        for_writing: bool = False,
        rebuild: bool = False,
        quick_check_bytes: int = 512_000_000,
        late_sentences: bool | None = None,  # None: as the index was built (a new one: separate); True: late;
        # False: separate; ignored where the embedder cannot
        pooled_chunks: bool = False,  # settings.chunk_vectors == "pooled" (index/preparing.py)
    ):
        self.dir = Path(index_dir)
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.faiss_factory = faiss_factory
        self.ann_threshold = ann_threshold
        self.ef_search = ef_search
        self.nprobe = nprobe
        self.pooled_chunks = pooled_chunks
        db = self.dir / DB_NAME
        if not create and not db.exists():
            raise FileNotFoundError(f"no index in {self.dir}; build it with `citeqa ingest`")
        self.store = Store(db, create=create, quick_check_bytes=quick_check_bytes)
        if for_writing and self.store.read_only:
            self.store.close()
            raise IndexReadOnly(f"the index at {self.dir} is read-only ({self.store.read_only_reason}); "
                                   "nothing was changed")
        self.late_sentences = late_sentences_for(self.store.manifest(), late_sentences, rebuild)
        self.expected = expected_manifest(embedder.model_name, embedder.dim, chunk_tokens, chunk_overlap,
                                          self.sentence_vector_kind(), self.chunk_vector_kind())
        if not rebuild:  # a rebuild replaces whatever the index was built with
            check_compatible(self.store.manifest(), self.expected, for_writing=for_writing)
        self._write_lock = threading.Lock()
        self._dense_lock = threading.RLock()
        self._dense_gen = 0  # the store generation the in-memory dense index reflects
        self._missing_since: dict[int, float] = {}
        self.dense = DenseIndex(embedder.dim, "Flat") if rebuild else self._load_dense()

    @classmethod
    def from_config(cls, cfg: StoreConfig, embedder: Embedder, **kw) -> "HybridIndex":
        return cls(cfg.index_dir, embedder, chunk_tokens=cfg.chunk_tokens, chunk_overlap=cfg.chunk_overlap,
                   faiss_factory=cfg.faiss_factory, ann_threshold=cfg.ann_threshold, ef_search=cfg.ef_search,
                   nprobe=cfg.nprobe, quick_check_bytes=cfg.quick_check_bytes, late_sentences=cfg.late_sentences,
                   pooled_chunks=cfg.pooled_chunks, **kw)

    # ---- dense cache ----------------------------------------------------------------------
    def _dense_path(self, generation: int) -> Path:
        return self.dir / f"dense-{generation}.faiss"

    def _load_dense(self) -> DenseIndex:
        """The FAISS file of the store's generation when its checksum and the store's vector digest
        both match (integrity.py), else vectors rebuilt from the store: flipped bytes or a stale
        file under the right tag would serve wrong passages without a word."""
        gen, digest = self.store.state()
        self._dense_gen = gen
        path = self._dense_path(gen)
        if path.exists():
            problem = integrity.cache_problem(path, digest, gen)
            if problem is None:
                try:
                    dense = DenseIndex.load(path, ef_search=self.ef_search, nprobe=self.nprobe)
                    if dense.dim == self.embedder.dim:
                        return dense
                    problem = f"it has {dense.dim} dimensions, not {self.embedder.dim}"
                except RuntimeError as exc:  # torn, foreign, or just replaced by a newer one
                    problem = f"unreadable ({exc})"
            log.warning("dense index %s not used: %s; rebuilding it from the store", path.name, problem)
        dense = self._rebuild_dense()
        if gen and not self.store.read_only:
            self._save_dense(dense, gen, digest)
        return dense

    def dense_problem(self) -> str | None:
        """Why the FAISS file on disk may not serve the store now (None: it may); `citeqa check`."""
        gen, digest = self.store.state()
        path = self._dense_path(gen)
        if not gen:
            return None
        if not path.exists():
            return f"{path.name} is missing"
        return integrity.cache_problem(path, digest, gen)

    def repair_dense(self) -> None:
        """Rebuild the FAISS file from the store's vectors and save it (with its sidecar)."""
        with self._dense_lock:
            gen, digest = self.store.state()
            self.dense = self._rebuild_dense()
            self._dense_gen = gen
            self._save_dense(self.dense, gen, digest)

    def refresh(self) -> None:
        """Catch up with a write committed by another process (`citeqa ingest` next to a running
        `citeqa serve`): one small query when nothing changed. The writer saves its FAISS file
        right after its commit; until it appears (5 s at most) the previous vectors keep serving,
        and BM25 and the store already see the new documents."""
        gen = self.store.generation()
        if gen == self._dense_gen:
            return
        # the sidecar is written after the FAISS file: its presence says the file is complete
        if not integrity.sidecar_path(self._dense_path(gen)).exists():
            first = self._missing_since.setdefault(gen, time.monotonic())
            if time.monotonic() - first < 5.0:
                return
        with self._dense_lock:
            if self.store.generation() != self._dense_gen:
                self.dense = self._load_dense()

    def _rebuild_dense(self) -> DenseIndex:
        n = self.store.counts()["chunks"]
        factory = resolve_factory(self.faiss_factory, n, self.ann_threshold)
        parts = list(self.store.iter_vectors())
        if parts:
            ids = np.concatenate([p[0] for p in parts])
            vecs = np.concatenate([p[1] for p in parts])
        else:
            ids, vecs = np.zeros(0, np.int64), np.zeros((0, self.embedder.dim), np.float32)
        return DenseIndex.build(self.embedder.dim, factory, ids, vecs, ef_search=self.ef_search, nprobe=self.nprobe)

    def _save_dense(self, dense: DenseIndex, generation: int, digest: str) -> None:
        """Best effort: the FAISS file is a cache, rebuilt from the store when missing. A write the
        store committed, or a start, never fails for it (a read-only folder, a full disk: faiss
        reports ENOSPC as a RuntimeError); the index keeps working from memory."""
        path = self._dense_path(generation)
        try:
            dense.save(path)
            write_json_atomic(integrity.sidecar_path(path), integrity.sidecar(path, digest, generation))
        except (OSError, RuntimeError) as exc:
            log.warning("could not save the dense index (a cache; rebuilt from the store when needed): %s", exc)
            return
        keep = {path.name, integrity.sidecar_path(path).name}
        for old in [*self.dir.glob("dense-*.faiss"), *self.dir.glob("dense-*.json")]:
            if old.name not in keep:
                old.unlink(missing_ok=True)

    # ---- the write path ---------------------------------------------------------------------
    def apply(self, bundles: list[Bundle], removals: list[str], wipe: bool = False) -> None:
        """Commit bundles and removals atomically, then bring the dense cache up to date."""
        with self._write_lock:
            log.info("writing %d documents, removing %d", len(bundles), len(removals))
            before = self._dense_gen
            removed_ids, added_ids, added_vecs = self.store.write(bundles, removals, self.expected, wipe=wipe)
            gen, digest = self.store.state()
            log.info("committed generation %d; updating the dense index", gen)
            manifest = self.store.manifest()  # the write stored fresh counts in it
            with self._dense_lock:
                n = manifest["counts"]["chunks"]
                want = resolve_factory(self.faiss_factory, n, self.ann_threshold)
                if (gen != before + 1  # another process wrote since our vectors were loaded
                        or want != self.dense.factory  # another index type (or size class) is due
                        or (len(removed_ids) and not self.dense.supports_remove)):
                    self.dense = self._rebuild_dense()
                else:
                    self.dense.remove(removed_ids)
                    self.dense.add(added_ids, added_vecs)
                self._dense_gen = gen
            self._save_dense(self.dense, gen, digest)
            try:  # a readable copy of the store's manifest; the store holds the real one
                write_json_atomic(self.dir / "manifest.json", manifest)
            except OSError as exc:
                log.warning("could not write %s: %s", self.dir / "manifest.json", exc)

    # ---- reads ------------------------------------------------------------------------------
    def allowed(self, doc_ids: list[str] | None, date_from: str | None, date_to: str | None) -> np.ndarray:
        """The row ids of the chunks that pass the filters (what search_* take as `allowed`)."""
        return self.store.chunk_ids_for(doc_ids, date_from, date_to)

    def search_dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        self.refresh()
        with self._dense_lock:
            scores, ids = self.dense.search(qvec, k, allowed)
        return [(int(i), float(s)) for i, s in zip(ids, scores)]

    def search_bm25(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.store.bm25(query, k, allowed)

    def close(self) -> None:
        self.store.close()


__all__ = ["Bundle", "HybridIndex", "embed_text_for"]

"""The persisted hybrid index: SQLite store (truth, BM25) + FAISS (dense cache), one write path.

Used by `citeqa ingest` and by the service's document endpoints alike, so both are incremental,
atomic and leave the same files behind.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import integrity
from index.chunking import chunk_text
from index.documents import Chunk, CleanDocument, Span
from index.embedding import Embedder
from index.manifest import check_compatible, expected_manifest, write_json_atomic
from index.mentions import rewrite_chunks, standalone
from index.sentences import split_sentences
from index.store import IndexReadOnly, Store
from index.tokens import count_tokens
from index.vectors import DenseIndex, resolve_factory

log = logging.getLogger(__name__)

DB_NAME = "citeqa.sqlite3"


@dataclass
class Bundle:
    """A document ready to store: its chunks, sentences and their vectors."""

    doc: CleanDocument
    chunks: list[Chunk]
    sentences: list[Span]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    # what is matched (terms, BM25) and embedded: the text with bare surnames read in full (mentions.py)
    sentence_texts: list[str]
    chunk_texts: list[str]


def embed_text_for(doc: CleanDocument, chunk: Chunk) -> str:
    # The headline gives every chunk its context (who/what the article is about).
    return f"{doc.title}\n{chunk.text}" if doc.title and not chunk.text.startswith(doc.title) else chunk.text


class HybridIndex:
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
        late_sentences: bool = False,  # settings.sentence_vectors == "late"; ignored where the embedder cannot
    ):
        self.dir = Path(index_dir)
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.faiss_factory = faiss_factory
        self.ann_threshold = ann_threshold
        self.ef_search = ef_search
        self.nprobe = nprobe
        self.late_sentences = late_sentences
        self.expected = expected_manifest(embedder.model_name, embedder.dim, chunk_tokens, chunk_overlap,
                                          "late" if late_sentences and embedder.can_late_chunk else "separate")
        db = self.dir / DB_NAME
        if not create and not db.exists():
            raise FileNotFoundError(f"no index in {self.dir}; build it with `citeqa ingest`")
        self.store = Store(db, create=create, quick_check_bytes=quick_check_bytes)
        if for_writing and self.store.read_only:
            self.store.close()
            raise IndexReadOnly(f"the index at {self.dir} is read-only ({self.store.read_only_reason}); "
                                   "nothing was changed")
        if not rebuild:  # a rebuild replaces whatever the index was built with
            check_compatible(self.store.manifest(), self.expected, for_writing=for_writing)
        self._write_lock = threading.Lock()
        self._dense_lock = threading.RLock()
        self._dense_gen = 0  # the store generation the in-memory dense index reflects
        self._missing_since: dict[int, float] = {}
        self.dense = DenseIndex(embedder.dim, "Flat") if rebuild else self._load_dense()

    @classmethod
    def from_settings(cls, settings, embedder: Embedder, **kw) -> "HybridIndex":
        return cls(
            settings.index_dir,
            embedder,
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap=settings.chunk_overlap_sentences,
            faiss_factory=settings.faiss_factory,
            ann_threshold=settings.auto_ann_threshold,
            ef_search=settings.hnsw_ef_search,
            nprobe=settings.ivf_nprobe,
            quick_check_bytes=int(settings.quick_check_mb * 1e6),
            late_sentences=settings.sentence_vectors == "late",
            **kw,
        )

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

    # ---- preparing documents (no writes) ----------------------------------------------------
    def prepare(self, docs: list[CleanDocument], progress: bool | None = None, encode=None,
                encode_spans=None) -> list[Bundle]:
        """Chunk, split and embed documents, batching the model calls across all of them.
        `encode(texts, progress)` / `encode_spans(texts, spans)`: the service's, which embed in
        slices that questions overtake."""
        pieces = []
        chunk_texts: list[str] = []
        sentence_texts: list[str] = []
        for doc in docs:
            sentences = split_sentences(doc.text)
            chunks = chunk_text(doc.doc_id, doc.text, sentences, self.chunk_tokens, self.chunk_overlap, count_tokens)
            units = [u for ch in chunks for u in ch.sentences]
            units = list(dict.fromkeys(units))  # overlap repeats sentences across chunks
            alone = standalone([doc.text[u.start : u.end] for u in units])
            match_texts = rewrite_chunks(doc.text, units, alone, [(ch.start, ch.end) for ch in chunks])
            pieces.append((doc, chunks, units, alone, match_texts))
            chunk_texts.extend(embed_text_for(doc, ch) for ch in chunks)
            sentence_texts.extend(alone)
        if self.late_sentences and self.embedder.can_late_chunk:
            chunk_vecs, sent_vecs = self._late(pieces, chunk_texts, sentence_texts, encode, encode_spans)
        else:
            vecs = (encode or self.embedder.encode)(chunk_texts + sentence_texts, progress=progress)
            chunk_vecs, sent_vecs = vecs[: len(chunk_texts)], vecs[len(chunk_texts) :]
        bundles, ci, si = [], 0, 0
        for doc, chunks, units, alone, match_texts in pieces:
            bundles.append(Bundle(doc, chunks, units, chunk_vecs[ci : ci + len(chunks)], sent_vecs[si : si + len(units)],
                                  alone, match_texts))
            ci += len(chunks)
            si += len(units)
        return bundles

    def _late(self, pieces, chunk_texts: list[str], sentence_texts: list[str], encode, encode_spans):
        """Chunk vectors, and sentence vectors pooled from the chunk pass ("late chunking": one
        forward pass instead of two). A sentence is read in the first chunk that holds it; one cut
        off by the model's window is embedded on its own."""
        spans: list[list[tuple[int, int]]] = []
        where: list[tuple[int, int] | None] = []  # per sentence of sentence_texts: (chunk, span)
        ci = 0
        for doc, chunks, units, _alone, _match in pieces:
            owner: dict[Span, tuple[int, int]] = {}
            for ch in chunks:
                prefix = len(chunk_texts[ci]) - len(ch.text)  # the title line before the chunk
                mine: list[tuple[int, int]] = []
                for u in ch.sentences:
                    if u not in owner:
                        owner[u] = (ci, len(mine))
                        mine.append((prefix + u.start - ch.start, prefix + u.end - ch.start))
                spans.append(mine)
                ci += 1
            where.extend(owner.get(u) for u in units)
        chunk_vecs, span_vecs = (encode_spans or self.embedder.encode_spans)(chunk_texts, spans)
        sent_vecs = np.zeros((len(sentence_texts), chunk_vecs.shape[1]), dtype=np.float32)
        missing = []
        for i, w in enumerate(where):
            v = span_vecs[w[0]][w[1]] if w is not None else None
            if v is None:
                missing.append(i)
            else:
                sent_vecs[i] = v
        if missing:
            sent_vecs[missing] = (encode or self.embedder.encode)([sentence_texts[i] for i in missing], progress=False)
        return chunk_vecs, sent_vecs

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
    def search_dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        self.refresh()
        with self._dense_lock:
            scores, ids = self.dense.search(qvec, k, allowed)
        return [(int(i), float(s)) for i, s in zip(ids, scores)]

    def search_bm25(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.store.bm25(query, k, allowed)

    def close(self) -> None:
        self.store.close()


__all__ = ["Bundle", "HybridIndex"]

"""The engine: model, index, retriever and answerer, loaded once and shared by the CLI, the API,
the eval harness and the benchmarks."""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from pathlib import Path

import numpy as np

from index.embedding import Embedder
from index.hybrid import HybridIndex
from index.ingest import IngestReport, ingest
from index.loading import BadInput, make_document
from index.manifest import IndexMismatch
from index.store import IndexCorrupt
from service.answerers.base import Answerer
from service.answerers.factory import create as create_answerer
from service.retrieval import Hit, Retriever
from service.schemas import (AskResponse, DocumentDetail, DocumentIn, DocumentSummary, Filters, Passage,
                             SearchResponse, Timings)
from service.settings import Settings

log = logging.getLogger(__name__)


class EngineError(RuntimeError):
    """The engine cannot start or serve (no index, a corrupt or incompatible one)."""


class QueryEncoder:
    """Embeds questions. Concurrent callers are batched into one model call: on two cores one
    forward pass over 8 questions costs far less than 8 passes, and the model runs one call at a
    time anyway."""

    def __init__(self, embedder: Embedder, max_batch: int = 32):
        self.embedder = embedder
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[tuple[str, dict]] = []
        self._busy = False

    def encode(self, text: str) -> np.ndarray:
        slot: dict = {}
        with self._cond:
            self._queue.append((text, slot))
            while "vec" not in slot and "err" not in slot:
                if not self._busy:  # this caller becomes the leader and runs a batch
                    self._busy = True
                    batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                    break
                self._cond.wait()
            else:
                return self._result(slot)
        try:
            vecs = self.embedder.encode([t for t, _ in batch], progress=False)
            for (_, s), v in zip(batch, vecs):
                s["vec"] = v
        except BaseException as exc:  # every waiter of the batch gets the error, not a hang
            for _, s in batch:
                s["err"] = exc
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        with self._cond:
            while "vec" not in slot and "err" not in slot:
                self._cond.wait()
        return self._result(slot)

    @staticmethod
    def _result(slot: dict) -> np.ndarray:
        if "err" in slot:
            raise slot["err"]
        return slot["vec"]


class Engine:
    def __init__(self, settings: Settings, embedder: Embedder, index: HybridIndex, answerer: Answerer | None = None,
                 mode: str = "hybrid"):
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.encoder = QueryEncoder(embedder)
        self.retriever = Retriever(index, rrf_k=settings.rrf_k, candidates=settings.candidates, mode=mode)
        self.answerer = answerer or create_answerer(
            "extractive", store=index.store, abstain_threshold=settings.abstain_threshold,
            max_answer_words=settings.max_answer_words,
        )

    @classmethod
    def load(cls, settings: Settings, ingest_if_needed: bool = False, embedder: Embedder | None = None,
             mode: str = "hybrid") -> "Engine":
        try:
            embedder = embedder or Embedder.from_settings(settings)
        except (OSError, ValueError) as exc:
            raise EngineError(f"cannot load the embedding model: {exc}") from exc
        try:
            if ingest_if_needed:
                index = HybridIndex.from_settings(settings, embedder, create=True, for_writing=True)
                report = ingest(index, [settings.seeds_dir])
                log.info("index up to date: %s", report.summary().replace("\n", "; "))
            else:
                index = HybridIndex.from_settings(settings, embedder)
        except FileNotFoundError as exc:
            raise EngineError(str(exc)) from exc
        except (IndexCorrupt, IndexMismatch) as exc:
            raise EngineError(str(exc)) from exc
        return cls(settings, embedder, index, mode=mode)

    # ---- queries ------------------------------------------------------------------------------
    def embed(self, text: str) -> np.ndarray:
        return self.encoder.encode(text)

    def _passages(self, hits: list[Hit]) -> list[Passage]:
        texts = self.index.store.texts(h.chunk.doc_id for h in hits)
        docs = {h.chunk.doc_id: self.index.store.document(h.chunk.doc_id) for h in hits}
        return [
            Passage(doc_id=h.chunk.doc_id, chunk_id=h.chunk.chunk_id, title=docs[h.chunk.doc_id].title,
                    date=docs[h.chunk.doc_id].date, text=texts[h.chunk.doc_id][h.chunk.start : h.chunk.end],
                    start=h.chunk.start, end=h.chunk.end, score=round(h.score, 6))
            for h in hits
        ]

    def search(self, query: str, top_k: int = 5, filters: Filters | None = None) -> SearchResponse:
        qvec = self.embed(query) if self.retriever.mode != "bm25" else None
        return SearchResponse(results=self._passages(self.retriever.run(query, qvec, top_k, filters)))

    def ask(self, question: str, top_k: int = 5, filters: Filters | None = None) -> AskResponse:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        t0 = time.perf_counter()
        qvec = self.embed(question)
        hits = self.retriever.run(question, qvec, top_k, filters)
        t1 = time.perf_counter()
        answer = self.answerer.run(question, qvec, hits)
        passages = self._passages(hits)
        t2 = time.perf_counter()
        return AskResponse(
            question=question, answer=answer.text, short_answer=answer.short_answer, abstained=answer.abstained,
            confidence=round(answer.confidence, 4), citations=answer.citations, passages=passages,
            timings_ms=Timings(retrieve=round((t1 - t0) * 1000, 3), answer=round((t2 - t1) * 1000, 3),
                               total=round((t2 - t0) * 1000, 3)),
        )

    # ---- documents ----------------------------------------------------------------------------
    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(doc_id=d.doc_id, title=d.title, date=d.date, chunks=d.n_chunks, sha256=d.sha256)
                for d in self.index.store.documents()]

    def document(self, doc_id: str) -> DocumentDetail | None:
        d = self.index.store.document(doc_id)
        if d is None:
            return None
        return DocumentDetail(doc_id=d.doc_id, title=d.title, date=d.date, chunks=d.n_chunks, sha256=d.sha256,
                              text=self.index.store.document_text(doc_id) or "")

    def add_document(self, doc: DocumentIn, filename: str | None = None) -> tuple[DocumentDetail, bool]:
        """Add or replace one article atomically; returns (document, created)."""
        kind = "html" if filename and Path(filename).suffix.lower() in (".html", ".htm") else "text"
        doc_id = doc.doc_id or (_safe_id(Path(filename).stem) if filename else None) \
            or "doc-" + hashlib.sha256(doc.text.encode()).hexdigest()[:16]
        clean = make_document(doc_id, doc.text, kind=kind, source=f"api:{filename or doc_id}", title=doc.title,
                              date=doc.date.isoformat() if doc.date else None)
        created = self.index.store.document(doc_id) is None
        self.index.apply(self.index.prepare([clean], progress=False), [])
        return self.document(doc_id), created

    def delete_document(self, doc_id: str) -> bool:
        if self.index.store.document(doc_id) is None:
            return False
        self.index.apply([], [doc_id])
        return True

    def ingest(self, paths: list[Path]) -> IngestReport:
        return ingest(self.index, paths)

    def close(self) -> None:
        self.index.close()


def _safe_id(stem: str) -> str | None:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "-", stem).strip("-.")
    return cleaned[:200] or None


__all__ = ["BadInput", "Engine", "EngineError"]

"""The engine: model, index, retriever and answerer, loaded once and shared by the CLI, the API,
the eval harness and the benchmarks."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from index.embedding.embedder import Embedder, cores
from index.stores.base import Index
from index.stores.errors import IndexCorrupt, IndexReadOnly, IndexUnavailable
from index.stores.factory import open_index
from index.ingest import ingest
from index.text.formats import page_of
from index.text.loading import SUPPORTED, make_document
from index.stores.manifest import IndexMismatch
from service.answerers.base import ABSTAIN_TEXT, Answer, Answerer
from service.answerers.extractive.scoring import default_weights, sentence_scores
from service.answerers.registry import create as create_answerer
from service.doc_ids import id_from_filename
from service.pipeline.encoder import QueryEncoder
from service.pipeline.followup import Turn, resolve
from service.pipeline.reranking import SentenceReranker
from service.pipeline.retrieval import Hit, Lexical, Retriever
from service.answerers.llm.client import LLMError
from service.schemas import (AskResponse, Citation, ClaimCheck, DocumentDetail, DocumentIn, DocumentSummary, Filters, Passage,
                             SearchResponse, Timings)
from service.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class EngineError(RuntimeError):
    """The engine cannot start or serve (no index, a corrupt or incompatible one)."""


@dataclass
class Retrieved:
    question: str  # as asked
    searched: str  # resolved against the history
    qvec: np.ndarray
    hits: list[Hit]
    t0: float
    t1: float
    answerer: str = "reader"
    explicit: bool = False  # the request named the answerer: no fallback when it fails
    prepared: Answer | None = None  # the streamed LLM answer, checked
    fallback: bool = False
    stages_ms: dict = field(default_factory=dict)  # resolve, embed, search, rerank, read, respond (Timings.stages)


class Engine:
    def __init__(self, settings: Settings, embedder: Embedder, index: Index, answerer: Answerer | None = None,
                 mode: str = "hybrid"):
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.encoder = QueryEncoder(embedder, bulk_slice=settings.upload_embed_slice,
                                    bulk_share=settings.upload_share)
        self.retriever = Retriever(index, rrf_k=settings.rrf_k, candidates=settings.candidates, mode=mode,
                                   feedback_passages=settings.feedback_passages,
                                   feedback_terms=settings.feedback_terms, feedback_weight=settings.feedback_weight)
        embedded = "auto" if settings.answerer == "llm" else settings.answerer
        self.answerer = answerer or create_answerer(
            embedded, store=index.store, abstain_threshold=settings.abstain_threshold,
            max_answer_words=settings.max_answer_words, reader_path=settings.reader_path,
            reader_threads=settings.reader_threads, chunk_vectors=_vectors(index, "chunk"),
            sentence_vectors=_vectors(index, "sentence"),
            reader_second_path=settings.reader_second_path, reader_second_passages=settings.reader_second_passages,
            reader_gate=settings.reader_gate, reader_second=settings.reader_second,
        )
        self.llm = self._llm_answerer(settings, index)
        if settings.answerer == "llm" and self.llm is None:
            raise EngineError("CITEQA_ANSWERER=llm needs CITEQA_LLM_URL (an OpenAI-compatible endpoint)")
        self.reranker = None
        if settings.rerank:
            # the fallback's sentence scores order the passages whatever answers: a plain function over
            # the store (the extractive answerer's own, with its calibration, when it answers)
            scorer = getattr(self.answerer, "sentence_scores", None) or partial(
                sentence_scores, store=index.store, weights=default_weights())
            self.reranker = SentenceReranker(scorer, prior=settings.rerank_prior)

    def _llm_answerer(self, settings: Settings, index: Index):
        if not settings.llm_url:
            return None
        from service.answerers.llm.answerer import LLMAnswerer
        from service.answerers.llm.client import LLMClient

        client = LLMClient(settings.llm_url, settings.llm_model,
                           settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                           timeout=settings.llm_timeout_s, max_tokens=settings.llm_max_tokens,
                           temperature=settings.llm_temperature, max_in_flight=settings.llm_max_in_flight)
        return LLMAnswerer(client, self.encoder.encode, floor=settings.llm_support_floor,
                           drop_unsupported=settings.llm_drop_unsupported,
                           reader=getattr(self.answerer, "runner", None), encode_many=self.encoder.encode_many,
                           sentence_vectors=_vectors(index, "sentence"))

    def chosen(self, requested: str | None) -> tuple[str, bool]:
        """(answerer name, whether the request asked for it by name)."""
        if requested == "llm":
            if self.llm is None:
                raise ValueError("this server has no LLM configured (CITEQA_LLM_URL)")
            return "llm", True
        if requested in ("reader", "extractive"):
            if requested != self.answerer.name:
                raise ValueError(f"this server answers with {self.answerer.name!r}, not {requested!r}")
            return requested, True
        return ("llm" if self.settings.answerer == "llm" else self.answerer.name), False

    @classmethod
    def load(cls, settings: Settings, ingest_if_needed: bool = False, embedder: Embedder | None = None,
             mode: str = "hybrid") -> "Engine":
        try:
            # One ONNX thread per question (as many questions/s as two, on half the CPU: README); an
            # upload, like `citeqa ingest`, uses all cores (bulk threads: this process's share of them)
            embedder = embedder or Embedder.from_config(settings.embedder_config(), threads=1,
                                                        bulk_threads=max(1, cores() // settings.workers))
        except (OSError, ValueError) as exc:
            raise EngineError(f"cannot load the embedding model: {exc}") from exc
        try:
            if ingest_if_needed:
                try:
                    index, rebuild = open_index(settings.store_config(), embedder, create=True, for_writing=True), False
                except IndexReadOnly as exc:  # nothing can be ingested: serve what is there
                    log.warning("%s: serving it as it is, without ingesting", exc)
                    index, rebuild = open_index(settings.store_config(), embedder), None
                except IndexMismatch as exc:
                    # `serve --ingest` is the one command that keeps the index current: an index made
                    # by another model or an older text pipeline is rebuilt (API-added documents are
                    # re-embedded from their stored text, see ingest), not refused.
                    log.warning("%s: rebuilding it", str(exc).replace("; re-run `citeqa ingest --rebuild`", ""))
                    index = open_index(settings.store_config(), embedder, create=True, for_writing=True, rebuild=True)
                    rebuild = True
                if rebuild is not None:
                    report = ingest(index, [settings.seeds_dir], rebuild=rebuild,
                                    max_file_bytes=int(settings.max_file_mb * 1e6))
                    log.info("index up to date: %s", report.summary().replace("\n", "; "))
            else:
                index = open_index(settings.store_config(), embedder)
        except FileNotFoundError as exc:
            raise EngineError(str(exc)) from exc
        except (IndexCorrupt, IndexMismatch, IndexUnavailable) as exc:
            raise EngineError(str(exc)) from exc
        return cls(settings, embedder, index, mode=mode)

    # ---- queries ------------------------------------------------------------------------------
    def embed(self, text: str) -> np.ndarray:
        return self.encoder.encode(text)

    def embed_while(self, text: str, work: Callable[[], T]) -> tuple[np.ndarray, T]:
        """The text's vector, and `work()` done on this thread while the model thread embeds."""
        pending = self.encoder.submit(text)
        try:
            result = work()
        finally:
            vec = pending.result()
        return vec, result

    def _passages(self, hits: list[Hit]) -> list[Passage]:
        return [Passage(doc_id=h.chunk.doc_id, chunk_id=h.chunk.chunk_id, title=h.title, date=h.date, text=h.passage,
                        start=h.chunk.start, end=h.chunk.end, score=round(h.score, 6),
                        page=page_of(h.pages, h.chunk.start)) for h in hits]

    def _live(self, hits: list[Hit]) -> list[Hit]:
        """The hits whose chunk and document still exist: a document replaced or deleted since
        retrieval (another request's write) is skipped (its text came with the hit; its citation
        must not)."""
        if not hits:
            return hits
        store = self.index.store
        chunks = store.chunks(h.row_id for h in hits)
        docs = store.documents_by_id(h.chunk.doc_id for h in hits)
        live = [h for h in hits if h.row_id in chunks and h.chunk.doc_id in docs]
        if len(live) < len(hits):
            log.info("%d retrieved passages were deleted before they were read: skipped", len(hits) - len(live))
        return live

    def _cites_only_live(self, answer: Answer) -> bool:
        ids = {c.doc_id for c in answer.citations}
        return not ids or len(self.index.store.documents_by_id(ids)) == len(ids)

    @staticmethod
    def _paged(citations: list[Citation], hits: list[Hit]) -> list[Citation]:
        """Each citation with the page its quote starts on (PDFs; None elsewhere), from its passage."""
        pages = {h.chunk.doc_id: h.pages for h in hits if h.pages}
        if not pages:
            return citations
        return [c.model_copy(update={"page": page_of(pages.get(c.doc_id), c.start)}) for c in citations]

    def search(self, query: str, top_k: int = 5, filters: Filters | None = None) -> SearchResponse:
        if self.retriever.mode == "bm25" and not self.reranker:  # nothing needs the query vector
            return SearchResponse(results=self._passages(self.retrieve(query, None, top_k, filters)))
        return SearchResponse(results=self._passages(self._embed_and_retrieve(query, top_k, filters)[1]))

    def retrieve(self, query: str, qvec: np.ndarray | None, top_k: int, filters: Filters | None,
                 lexical: Lexical | None = None, stages: dict | None = None) -> list[Hit]:
        t0 = time.perf_counter()
        hits = self.retriever.run(query, qvec, top_k, filters, lexical=lexical)
        t1 = time.perf_counter()
        if self.reranker and qvec is not None:
            hits = self.reranker.run(query, qvec, hits)
        if stages is not None:
            stages.update(search=_ms(t1 - t0), rerank=_ms(time.perf_counter() - t1))
        return hits

    def _embed_and_retrieve(self, query: str, top_k: int, filters: Filters | None,
                            stages: dict | None = None) -> tuple[np.ndarray, list[Hit]]:
        """The query vector and the passages; the BM25 search runs while the model embeds."""
        t0 = time.perf_counter()
        qvec, lexical = self.embed_while(query, lambda: self.retriever.lexical(query, top_k, filters))
        if stages is not None:
            stages["embed"] = _ms(time.perf_counter() - t0)
        return qvec, self.retrieve(query, qvec, top_k, filters, lexical=lexical, stages=stages)

    # ---- the ask: one staged pipeline for the JSON and the streaming paths ----------------------
    # resolve (follow-up) -> retrieve (embed, search, fuse, rerank) -> [passages, the LLM's tokens]
    # -> read (the answerer) -> respond (passages in the answerer's order, citations paged)
    def ask(self, question: str, top_k: int = 5, filters: Filters | None = None,
            history: list | None = None, answerer: str | None = None) -> AskResponse:
        return self.answer(question, top_k, filters, history, answerer)[0]

    def answer(self, question: str, top_k: int = 5, filters: Filters | None = None,
               history: list | None = None, answerer: str | None = None) -> tuple[AskResponse, Answer]:
        """`ask`, and the answerer's own result beside the response (its debug scores, for eval)."""
        for kind, data in self._staged(question, top_k, filters, history, answerer, emit=False):
            if kind == "final":
                return data
        raise AssertionError("the pipeline ended without an answer")

    def stream(self, question: str, top_k: int = 5, filters: Filters | None = None,
               history: list | None = None, answerer: str | None = None):
        """The same ask as events: ("passages", {question, standalone_question, passages}) once
        retrieval is done, ("token", text) while an LLM writes, then ("final", (response, answer))."""
        return self._staged(question, top_k, filters, history, answerer, emit=True)

    def _staged(self, question, top_k, filters, history, answerer, emit: bool):
        self.encoder.ask_started()  # an upload's embedding yields to questions
        try:
            got = self.retrieve_for(question, top_k, filters, history, answerer)
            if emit:
                yield "passages", {"question": got.question,
                                   "standalone_question": got.searched if got.searched != got.question else None,
                                   "passages": self._passages(got.hits)}
                for token in self.stream_tokens(got):
                    yield "token", token
            yield "final", self.finish(got)
        finally:
            self.encoder.ask_done()

    def retrieve_for(self, question: str, top_k: int = 5, filters: Filters | None = None,
                     history: list | None = None, answerer: str | None = None) -> "Retrieved":
        """The first half of `answer`: the question resolved against the history, embedded, searched."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        name, explicit = self.chosen(answerer)
        t0 = time.perf_counter()
        turns = [Turn(h.question, h.answer, h.short_answer) if not isinstance(h, Turn) else h for h in history or []]
        searched = resolve(question, turns)
        if turns and name == "llm":  # the LLM condenses the follow-up; the rule above when it cannot
            try:
                searched = self.llm.condense(question, [(t.question, t.answer) for t in turns])
            except LLMError as exc:
                log.warning("the LLM could not condense the follow-up (%s); resolved without it", exc)
        stages = {"resolve": _ms(time.perf_counter() - t0)}
        qvec, hits = self._embed_and_retrieve(searched, top_k, filters, stages)
        t1 = time.perf_counter()
        return Retrieved(question, searched, qvec, hits, t0, t1, name, explicit, stages_ms=stages)

    def stream_tokens(self, got: "Retrieved"):
        """The answer's text as the LLM writes it (nothing for the extractive answerers); the checked
        answer is kept on `got` for `finish`."""
        if got.answerer != "llm":
            return
        try:
            for piece in self.llm.stream(got.searched, self._live(got.hits)):
                if isinstance(piece, str):
                    yield piece
                else:
                    got.prepared = piece
        except LLMError:
            if got.explicit:
                raise
            got.fallback = True  # the embedded answerer answers in finish()

    def _run(self, got: "Retrieved") -> Answer:
        if got.prepared is not None:
            return got.prepared
        if got.answerer == "llm" and not got.fallback:
            try:
                got.hits = self._live(got.hits)
                return self.llm.run(got.searched, got.qvec, got.hits)
            except LLMError as exc:
                if got.explicit:
                    raise
                log.warning("the LLM failed (%s); answering with the embedded answerer", exc)
                got.fallback = True
        return self._embedded(got)

    def _embedded(self, got: "Retrieved") -> Answer:
        """The embedded answerer over the hits that still exist; read again (at most twice) when a
        document it cites was deleted while it read."""
        for _ in range(3):
            got.hits = self._live(got.hits)
            answer = self.answerer.run(got.searched, got.qvec, got.hits)
            if self._cites_only_live(answer):
                return answer
        return Answer(ABSTAIN_TEXT, None, True, 0.0, [])

    def finish(self, got: "Retrieved") -> tuple[AskResponse, Answer]:
        """The second half of `answer`: read the passages, cite, respond."""
        question, hits, t0, t1 = got.question, got.hits, got.t0, got.t1
        answer = self._run(got)
        t_read = time.perf_counter()
        hits = got.hits  # without the passages deleted since retrieval
        used_llm = got.answerer == "llm" and not got.fallback
        if answer.order and self.settings.reader_orders_passages:
            hits = [hits[i] for i in answer.order]
        passages = self._passages(hits)
        citations = self._paged(answer.citations, hits)
        t2 = time.perf_counter()
        got.stages_ms.update(read=_ms(t_read - t1), respond=_ms(t2 - t_read))
        log.debug("ask stages (ms): %s", got.stages_ms)
        return AskResponse(
            question=question, standalone_question=got.searched if got.searched != question else None,
            answer=answer.text, short_answer=answer.short_answer,
            short_answer_span=answer.short_span, abstained=answer.abstained,
            confidence=round(answer.confidence, 4), citations=citations, passages=passages,
            timings_ms=Timings(retrieve=round((t1 - t0) * 1000, 3), answer=round((t2 - t1) * 1000, 3),
                               total=round((t2 - t0) * 1000, 3), stages=got.stages_ms),
            answerer="llm" if used_llm else self.answerer.name, model=self.llm.client.model if used_llm else None,
            claims=[ClaimCheck(**c) for c in answer.debug.get("claims", [])] if used_llm else None,
            fallback=got.fallback,
            closest=self._paged([answer.closest], hits)[0] if answer.closest else None, abstain_reason=answer.why,
        ), answer

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
        """Add or replace one article atomically; returns (document, created): False when it replaced one."""
        self.index.store.check_writable()  # before the embedding, not after
        kind = SUPPORTED.get(Path(filename).suffix.lower(), "text") if filename else "text"
        doc_id = doc.doc_id or (id_from_filename(Path(filename).stem) if filename else None) \
            or "doc-" + hashlib.sha256(doc.text.encode()).hexdigest()[:16]
        clean = make_document(doc_id, doc.text, kind=kind, source=f"api:{filename or doc_id}", title=doc.title,
                              date=doc.date.isoformat() if doc.date else None)
        created = self.index.store.document(doc_id) is None
        self.index.apply(self.index.prepare([clean], progress=False, encode=self.encoder.encode_bulk,
                                            encode_spans=self.encoder.encode_spans_bulk), [])
        return self.document(doc_id), created

    def delete_document(self, doc_id: str) -> bool:
        self.index.store.check_writable()
        if self.index.store.document(doc_id) is None:
            return False
        self.index.apply([], [doc_id])
        return True

    def close(self) -> None:
        if self.llm is not None:
            self.llm.client.close()
        self.encoder.close()
        for name in ("runner", "second"):
            runner = getattr(self.answerer, name, None)
            if runner is not None:
                runner.close()
        self.index.close()


def _vectors(index: Index, kind: str) -> str:
    """How the opened index's `kind` ("chunk" or "sentence") vectors were made: its manifest (one written
    before the key existed had separate ones); an empty index: what it will write."""
    manifest = index.store.manifest()
    if manifest:
        return manifest.get(f"{kind}_vectors", "separate")
    return getattr(index, f"{kind}_vector_kind", lambda: "separate")()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


__all__ = ["Engine", "EngineError", "QueryEncoder"]

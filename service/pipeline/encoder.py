"""The query-embedding stage: questions embedded on one dedicated model thread, and a document's texts
in slices that questions overtake."""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import numpy as np

from index.embedding.embedder import Embedder
from service.model_thread import ModelThread


class QueryEncoder:
    """Embeds questions on one dedicated model thread. Questions that arrive while it is busy are
    encoded together in the next model call: on two cores one forward pass over 8 questions costs
    about as much as two single ones, and one thread keeps one set of torch buffers (request
    threads taking turns at the model each grew their own: the load benchmark saw 1.2 GB)."""

    def __init__(self, embedder: Embedder, max_batch: int = 32, bulk_slice: int = 16, bulk_share: float = 0.9):
        self.embedder = embedder
        self.bulk_slice = bulk_slice
        self.bulk_share = bulk_share
        self._thread = ModelThread(self._encode_questions, max_batch, "citeqa-encoder")
        # questions being answered now: while any is, the bulk lane runs at most `bulk_share` of the
        # time (after a slice, it waits (1 - share) / share times as long, at most max_yield_s), so the
        # reader keeps most of the cores (p95 3.6x idle when uploads never waited) and an upload still
        # moves under a steady stream of questions (waiting the full max_yield_s per slice: 92 s for 550 KB)
        self.asks_in_flight = 0
        self._in_flight_lock = threading.Lock()
        self.max_yield_s = 0.25

    def ask_started(self) -> None:
        with self._in_flight_lock:
            self.asks_in_flight += 1

    def ask_done(self) -> None:
        with self._in_flight_lock:
            self.asks_in_flight -= 1

    def _encode_questions(self, texts: list[str]) -> list[np.ndarray]:
        if self.embedder.batch_dependent:  # int8: one call per question, see Embedder.batch_dependent
            return [self.embedder.encode([t], progress=False)[0] for t in texts]
        return list(self.embedder.encode(texts, progress=False))

    def encode(self, text: str) -> np.ndarray:
        return self.submit(text).result()

    def encode_many(self, texts: list[str]) -> np.ndarray:
        """A few texts in one model call on the model thread (the LLM verifier's offered sentences)."""
        return self._thread.later(lambda: self.embedder.encode(texts, progress=False)).result()

    def encode_bulk(self, texts: list[str], progress: bool | None = None) -> np.ndarray:
        """A document's texts, embedded on the model thread in slices that questions overtake."""
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        for idx, vecs in self._sliced(lambda part: self.embedder.encode(part, progress=False, wide=True), texts):
            out[idx] = vecs
        return out

    def encode_spans_bulk(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        """`Embedder.encode_spans` in slices on the model thread, like `encode_bulk`."""
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        span_out: list = [None] * len(texts)
        for idx, (vecs, svecs) in self._sliced(lambda t, s: self.embedder.encode_spans(t, s, wide=True), texts, spans):
            out[idx] = vecs
            for j, sv in zip(idx, svecs):
                span_out[j] = sv
        return out, span_out

    def _sliced(self, fn, *seqs: list) -> list[tuple[np.ndarray, object]]:
        """(indices, fn over them) for `bulk_slice`-long slices of `seqs`, one slice at a time on the model
        thread, run on the embedder's bulk threads (all the cores: a question is read on one). The texts
        go longest first, as the embedder orders one call's batches, so a slice as long as a batch pads
        as little and is the very batch `citeqa ingest` runs: an uploaded document gets the vectors an
        ingested one does. Before each slice, wait (here, in the uploading request's thread: the model
        thread stays free for questions) while questions are being answered: the bulk lane's share of
        the time, `bulk_share`. (Running slices beside the questions instead of on the model thread was
        slower under load: 80-82 s against 62-72 s for 550 KB on 2 AVX2 cores.)"""
        order = np.argsort([-len(t) for t in seqs[0]], kind="stable")
        out, last = [], 0.0
        for i in range(0, len(order), self.bulk_slice):
            if last and self.asks_in_flight > 0:
                deadline = time.monotonic() + min(self.max_yield_s, last * (1 - self.bulk_share) / self.bulk_share)
                while self.asks_in_flight > 0 and time.monotonic() < deadline:
                    time.sleep(0.002)
            idx = order[i : i + self.bulk_slice]
            t0 = time.monotonic()
            parts = [[q[j] for j in idx] for q in seqs]
            out.append((idx, self._thread.later(lambda parts=parts: fn(*parts)).result()))
            last = time.monotonic() - t0
        return out

    def submit(self, text: str) -> Future:
        """Queue a text for the model thread; the future holds its vector."""
        return self._thread.submit(text)

    def close(self) -> None:
        self._thread.close()

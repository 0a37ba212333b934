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

    def __init__(self, embedder: Embedder, max_batch: int = 32, bulk_slice: int = 8, bulk_share: float = 0.9):
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
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.concatenate(self._sliced(lambda part: self.embedder.encode(part, progress=False), texts))

    def encode_spans_bulk(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        """`Embedder.encode_spans` in slices on the model thread, like `encode_bulk`."""
        results = self._sliced(self.embedder.encode_spans, texts, spans)
        return np.concatenate([r[0] for r in results]), [s for r in results for s in r[1]]

    def _sliced(self, fn, *seqs: list) -> list:
        """fn over `bulk_slice`-long slices of `seqs`, one slice at a time on the model thread; before
        each, wait (here, in the uploading request's thread: the model thread stays free for
        questions) while questions are being answered: the bulk lane's share of the time, `bulk_share`."""
        out, last = [], 0.0
        for i in range(0, len(seqs[0]), self.bulk_slice):
            if last and self.asks_in_flight > 0:
                deadline = time.monotonic() + min(self.max_yield_s, last * (1 - self.bulk_share) / self.bulk_share)
                while self.asks_in_flight > 0 and time.monotonic() < deadline:
                    time.sleep(0.002)
            t0 = time.monotonic()
            out.append(self._thread.later(lambda parts=[q[i:i + self.bulk_slice] for q in seqs]: fn(*parts)).result())
            last = time.monotonic() - t0
        return out

    def submit(self, text: str) -> Future:
        """Queue a text for the model thread; the future holds its vector."""
        return self._thread.submit(text)

    def close(self) -> None:
        self._thread.close()

"""The reader on one model thread: questions that arrive while it is busy are queued and taken
together (as the query encoder does for embeddings, service/engine.py), each read in a model call
of its own so its answer never depends on its neighbours (see ReaderModel.run_many). One thread
owns the ONNX session, so concurrent requests never contend for its buffers or its cores."""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from service.reader.decode import Span
from service.reader.model import ReaderModel


class ReaderRunner:
    def __init__(self, model: ReaderModel, max_questions: int = 8):
        self.model = model
        self.max_questions = max_questions
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="citeqa-reader", daemon=True)
        self._thread.start()

    def read(self, question: str, passages: list[str]) -> list[Span]:
        future: Future = Future()
        self._queue.put(((question, passages), future))
        return future.result()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self.max_questions:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            try:
                results = self.model.run_many([it for it, _ in batch])
                for (_, fut), res in zip(batch, results):
                    fut.set_result(res)
            except BaseException as exc:  # every caller of the batch gets the error, none hangs
                for _, fut in batch:
                    fut.set_exception(exc)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

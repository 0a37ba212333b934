"""One model, one thread: callers queue work and wait on a future; whatever arrived while the
model was busy is handed to it together in the next call. Used by the query encoder
(service/engine.py) and the reader (service/reader/runner.py)."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class ModelThread:
    """`work(items) -> results` (one result per item, in order) runs on a dedicated thread."""

    def __init__(self, work: Callable[[list], list], max_batch: int, name: str):
        self._work = work
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> Future:
        future: Future = Future()
        self._queue.put((item, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
            try:
                for (_, fut), result in zip(batch, self._work([item for item, _ in batch])):
                    fut.set_result(result)
            except BaseException as exc:  # every caller of the batch gets the error, none hangs
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

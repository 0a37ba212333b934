"""One model, one thread: callers queue work and wait on a future; whatever arrived while the
model was busy is handed to it together in the next call. Used by the query encoder
(service/engine.py) and the reader (service/answerers/reader/runner.py).

Bulk work (embedding an uploaded document) goes to a second, lower lane in small jobs: the thread
takes a job only when no question waits, so a question waits for at most one job, never for a
whole document (a 100 KB upload used to hold the model for 18 s while every question queued).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class ModelThread:
    """`work(items) -> results` (one result per item, in order) runs on a dedicated thread;
    `later(fn)` runs `fn()` on it when no item is waiting."""

    def __init__(self, work: Callable[[list], list], max_batch: int, name: str):
        self._work = work
        self.max_batch = max_batch
        self._items: deque = deque()
        self._jobs: deque = deque()
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> Future:
        return self._put(self._items, item)

    def later(self, fn: Callable[[], Any]) -> Future:
        """Low priority: `fn()` runs on the model thread between batches of items."""
        return self._put(self._jobs, fn)

    def _put(self, lane: deque, entry: Any) -> Future:
        future: Future = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("the model thread is closed")
            lane.append((entry, future))
            self._cv.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._items and not self._jobs and not self._closed:
                    self._cv.wait()
                if self._items:
                    batch = [self._items.popleft() for _ in range(min(len(self._items), self.max_batch))]
                elif self._jobs:
                    batch = None
                    fn, future = self._jobs.popleft()
                else:
                    return  # closed, and everything queued before close() was done
            if batch is None:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:
                        future.set_exception(exc)
                continue
            try:
                for (_, fut), result in zip(batch, self._work([item for item, _ in batch])):
                    fut.set_result(result)
            except BaseException as exc:  # every caller of the batch gets the error, none hangs
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=10)

"""The reader on one model thread: questions that arrive while it is busy are queued and taken
together (as the query encoder does for embeddings, service/engine.py), each read in a model call
of its own so its answer never depends on its neighbours (see ReaderModel.run_many). One thread
owns the ONNX session, so concurrent requests never contend for its buffers or its cores."""
from __future__ import annotations

from service.model_thread import ModelThread
from service.answerers.reader.decode import Span
from service.answerers.reader.model import ReaderModel


class ReaderRunner:
    def __init__(self, model: ReaderModel, max_questions: int = 8, name: str = "citeqa-reader"):
        self.model = model
        self._thread = ModelThread(lambda items: self.model.run_many(items), max_questions, name)

    def read(self, question: str, passages: list[str]) -> list[Span]:
        return self._thread.submit((question, passages)).result()

    def close(self) -> None:
        self._thread.close()

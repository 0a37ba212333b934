"""Answerer by name: `reader` (the learned extractive reader, the default when its model is
there), `extractive` (the heuristic sentence picker, the fallback). A generative answerer would
register here without touching retrieval or the API."""
from __future__ import annotations

import logging
from pathlib import Path

from service.answerers.base import Answerer

log = logging.getLogger(__name__)
NAMES = ("auto", "reader", "extractive")


def create(name: str, **kwargs) -> Answerer:
    if name == "auto":
        from service.answerers.reader.model import ReaderUnavailable

        try:
            return create("reader", **kwargs)
        except ReaderUnavailable as exc:
            log.warning("%s: answering with the heuristic extractive answerer", exc)
            name = "extractive"
    if name == "reader":
        from service.answerers.reader.answerer import ReaderAnswerer
        from service.answerers.reader.model import ONNX_NAME, SECOND_DIR, SHIPPED_DIR, ReaderModel
        from service.answerers.reader.runner import ReaderRunner

        path = kwargs.pop("reader_path", None)  # None: the model shipped beside the reader
        threads = kwargs.pop("reader_threads", 0)
        model = ReaderModel(Path(path) if path is not None else SHIPPED_DIR, threads=threads)
        second_path = kwargs.pop("reader_second_path", None)
        if second_path is None and path is None and (SECOND_DIR / ONNX_NAME).exists():
            second_path = SECOND_DIR  # the shipped pair
        if not kwargs.pop("reader_second", True):
            second_path = None
        second = ReaderRunner(ReaderModel(Path(second_path), threads=threads), name="citeqa-reader-2") \
            if second_path is not None else None
        return ReaderAnswerer(ReaderRunner(model), second=second,
                              **_only(kwargs, "abstain_threshold", "max_answer_words", "chunk_vectors",
                                      "reader_second_passages", "reader_gate", "sentence_vectors"))
    if name == "extractive":
        from service.answerers.extractive.answerer import ExtractiveAnswerer

        return ExtractiveAnswerer(**_only(kwargs, "store", "abstain_threshold", "max_answer_words"))
    raise ValueError(f"unknown answerer {name!r} (available: {', '.join(NAMES)})")


def _only(kwargs: dict, *names: str) -> dict:
    return {k: v for k, v in kwargs.items() if k in names}

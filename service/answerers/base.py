"""The answerer interface: retrieval and the API depend on this, not on an implementation."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from service.pipeline.retrieval import Hit
from service.schemas import Citation


@dataclass
class Answer:
    text: str
    short_answer: str | None
    abstained: bool
    confidence: float
    citations: list[Citation]
    debug: dict = field(default_factory=dict)
    # the short answer's own span: {"n": citation number, "doc_id", "start", "end"} (document offsets)
    short_span: dict | None = None
    # the passages' order by the answerer's own reading (indices into the hits), when it has one
    order: list[int] | None = None
    # on an abstention: the retrieved sentence closest to the question, when it is close, and why
    # it was not taken as the answer (the page shows both instead of a bare "do not say")
    closest: Citation | None = None
    why: str | None = None


ABSTAIN_TEXT = "The articles do not say."


class Answerer(ABC):
    """`run` gets the question, its embedding and the retrieved passages, returns a cited answer."""

    name: str = "base"

    @abstractmethod
    def run(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> Answer: ...

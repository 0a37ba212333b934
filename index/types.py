"""Plain data passed between the ingestion stages."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A [start, end) character range of a document's cleaned text."""

    start: int
    end: int


@dataclass
class CleanDocument:
    doc_id: str
    title: str
    text: str
    date: str | None = None
    author: str | None = None
    source: str = ""
    sha256: str = ""
    # paged formats (PDF): the offset in `text` where each page starts; None for unpaged ones
    page_starts: list[int] | None = None


@dataclass
class Chunk:
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    n_tokens: int
    sentences: list[Span] = field(default_factory=list)

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.ord}"

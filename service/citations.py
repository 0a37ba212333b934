"""Answer text with [n] markers and the matching citations: pure function over plain data."""
from __future__ import annotations

from dataclasses import dataclass

from service.schemas import Citation


@dataclass(frozen=True)
class Quote:
    """One verbatim sentence of a document, as the answer will quote it."""

    doc_id: str
    title: str
    date: str | None
    chunk_id: str
    start: int
    end: int
    text: str
    score: float


def compose(quotes: list[Quote]) -> tuple[str, list[Citation]]:
    """Join quotes, each followed by its marker; markers count 1, 2, … in order of first
    appearance, and a sentence quoted twice keeps its first number."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for q in quotes:
        key = (q.doc_id, q.start, q.end)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append(
                Citation(n=numbers[key], doc_id=q.doc_id, title=q.title, date=q.date, chunk_id=q.chunk_id,
                         quote=q.text, start=q.start, end=q.end, score=round(q.score, 4))
            )
        parts.append(f"{q.text} [{numbers[key]}]")
    return " ".join(parts), citations

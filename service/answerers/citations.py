"""Answer text with [n] markers and the matching citations: pure function over plain data.

An article's own bracketed numbers ("… said [1].", a footnote "[2, 3]") would read as markers, so
in the answer text their brackets become fullwidth ones (［1］): every "[n]" of an answer is a
citation. The citation's ``quote`` stays the article's exact text. The substitution keeps the
length in characters (and in UTF-16 units), so offsets into a quote hold for its answer form.
"""
from __future__ import annotations

import re
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


_BRACKETED_NUMBER = re.compile(r"\[(?=[^\]]*[0-9])([0-9\s,\-\u2013]+)\]")  # as app.js's (ASCII digits)


def neutralize(text: str) -> str:
    """Article text as the answer shows it: "[1]" → "［1］" (the page does the same to find a quote)."""
    return _BRACKETED_NUMBER.sub(lambda m: f"\uff3b{m.group(1)}\uff3d", text)


def compose(quotes: list[Quote]) -> tuple[str, list[Citation]]:
    """Join quotes, each followed by its marker; markers count 1, 2, … in order of first
    appearance, and a sentence quoted twice keeps its first number. Quotes are neutralized."""
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
        parts.append(f"{neutralize(q.text)} [{numbers[key]}]")
    return " ".join(parts), citations

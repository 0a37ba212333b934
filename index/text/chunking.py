"""Sentence-aware chunking counted in tokens, with whole-sentence overlap.

Pure function over plain data: every chunk is a run of whole sentences of one document, and
`text[chunk.start:chunk.end] == chunk.text`. A sentence longer than the budget is cut at word
boundaries into pieces that each fit (the pieces then stand in for sentences).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from index.types import Chunk, Span

_word = re.compile(r"\S+")


def split_long(text: str, span: Span, max_tokens: int, count: Callable[[str], int]) -> list[Span]:
    """Cut one over-long sentence at word boundaries into spans of at most max_tokens."""
    if count(text[span.start : span.end]) <= max_tokens:
        return [span]
    words = [(span.start + m.start(), span.start + m.end()) for m in _word.finditer(text[span.start : span.end])]
    pieces: list[Span] = []
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and count(text[words[i][0] : words[j][1]]) <= max_tokens:
            j += 1
        # a single "word" over the budget (a URL, say) is kept whole rather than cut mid-word
        pieces.append(Span(words[i][0], words[j - 1][1]))
        i = j
    return pieces


def chunk_text(
    doc_id: str,
    text: str,
    sentences: list[Span],
    max_tokens: int,
    overlap: int,
    count: Callable[[str], int],
) -> list[Chunk]:
    units: list[Span] = []
    sizes: list[int] = []  # each unit counted once (counting is a third of the text steps' time)
    for span in sentences:
        n = count(text[span.start : span.end])
        if n <= max_tokens:
            units.append(span)
            sizes.append(n)
        else:
            pieces = split_long(text, span, max_tokens, count)
            units.extend(pieces)
            sizes.extend(count(text[p.start : p.end]) for p in pieces)
    if not units:
        return []

    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = first
        total = sizes[first]
        while last + 1 < len(units) and total + 1 + sizes[last + 1] <= max_tokens:
            last += 1
            total += 1 + sizes[last]
        start, end = units[first].start, units[last].end
        body = text[start:end]
        n_tokens = count(body)
        while n_tokens > max_tokens and last > first:  # the estimate was low: give back a sentence
            last -= 1
            end = units[last].end
            body = text[start:end]
            n_tokens = count(body)
        chunks.append(
            Chunk(doc_id=doc_id, ord=len(chunks), start=start, end=end, text=body, n_tokens=n_tokens,
                  sentences=units[first : last + 1])
        )
        if last + 1 >= len(units):
            break
        # carry over up to `overlap` sentences, but only as many as still leave room for the next one
        nxt = max(first + 1, last + 1 - overlap)
        while nxt <= last and sum(sizes[nxt : last + 2]) + (last + 1 - nxt) > max_tokens:
            nxt += 1
        first = nxt
    return chunks

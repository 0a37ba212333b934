"""Sentence boundaries with character offsets into the cleaned text.

blingfire (a finite-state sentence breaker) handles abbreviations such as "U.S." and "Jan. 11"
and is ~10x faster than pysbd on these texts, which matters for ingest throughput. It runs on
one paragraph at a time, so a sentence never crosses a line break of the cleaned text.
"""
from __future__ import annotations

import re

import blingfire

from index.types import Span

_paragraph = re.compile(r"[^\n]+")


def split_sentences(text: str) -> list[Span]:
    spans: list[Span] = []
    for para in _paragraph.finditer(text):
        base = para.start()
        body = para.group()
        if not body.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(body)
        for start, end in offsets:
            # blingfire's offsets are inclusive of neither surrounding space; trim to be sure
            while start < end and body[start].isspace():
                start += 1
            while end > start and body[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append(Span(base + start, base + end))
    return spans

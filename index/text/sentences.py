"""Sentence boundaries with character offsets into the cleaned text.

blingfire (a finite-state sentence breaker) handles abbreviations such as "U.S." and "Jan. 11"
and is ~10x faster than pysbd on these texts, which matters for ingest throughput. It runs on
one paragraph at a time, so a sentence never crosses a line break of the cleaned text.

Its Python wrapper (`text_to_sentences_and_offsets`) maps UTF-8 byte offsets to character offsets
in a Python loop over every byte, most of sentence splitting's time on long articles. The same C
call is made here and its offsets mapped with numpy: the same spans (tested against the wrapper on
the seeds and made-up Unicode text; checked once on all 39,752 paragraphs of the SQuAD files in
../shared/qa).
"""
from __future__ import annotations

import ctypes
import re

import blingfire
import numpy as np

from index.types import Span

_paragraph = re.compile(r"[^\n]+")
_LIB = blingfire.blingfire  # the wrapper's loaded library


def sentence_offsets(body: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of blingfire's sentences in `body`, as its wrapper gives them;
    the whole body as one sentence where the C call reports an error (the wrapper gave none)."""
    raw = body.encode("utf-8")
    size = len(raw) * 2  # the wrapper's buffer sizes
    out = ctypes.create_string_buffer(size)
    starts, ends = (ctypes.c_int32 * size)(), (ctypes.c_int32 * size)()
    n = _LIB.TextToSentencesWithOffsets(ctypes.c_char_p(raw), ctypes.c_int(len(raw)), ctypes.byref(out),
                                        ctypes.byref(starts), ctypes.byref(ends), ctypes.c_int(size))
    if n == -1 or n > size:
        return [(0, len(body))]
    count = out.value.count(b"\n") + 1
    s = np.frombuffer(starts, dtype=np.int32, count=count).astype(np.int64)
    e = np.frombuffer(ends, dtype=np.int32, count=count).astype(np.int64) + 1  # inclusive last byte -> exclusive
    if len(raw) != len(body):  # not ASCII: byte offsets -> character offsets
        lead = (np.frombuffer(raw, dtype=np.uint8) & 0xC0) != 0x80  # the first byte of each character
        char_of = np.append(np.cumsum(lead) - 1, len(body))  # byte -> its character; one past the end -> len
        s, e = char_of[s], char_of[np.minimum(e, len(raw))]
    return list(zip(s.tolist(), e.tolist()))


def split_sentences(text: str) -> list[Span]:
    spans: list[Span] = []
    for para in _paragraph.finditer(text):
        base = para.start()
        body = para.group()
        if not body.strip():
            continue
        for start, end in sentence_offsets(body):
            # blingfire's offsets are inclusive of neither surrounding space; trim to be sure
            while start < end and body[start].isspace():
                start += 1
            while end > start and body[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append(Span(base + start, base + end))
    return spans

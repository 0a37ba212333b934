"""eval.bench.embed_passes: the one-pass windows read every sentence once, and a chunk's vector is
pooled from the windows that read its sentences."""
from __future__ import annotations

import numpy as np

from eval.bench.embed_passes import pool_windows, window_plan
from index.text.chunking import chunk_text
from index.text.sentences import split_sentences
from index.text.tokens import count_tokens
from index.types import CleanDocument

TEXT = " ".join(f"Sentence number {i} tells of the {i}th port and its ships, cargo and crews." for i in range(40))


def _doc_and_chunks(overlap=1):
    doc = CleanDocument(doc_id="d", title="Ports of the world", text=TEXT)
    chunks = chunk_text("d", TEXT, split_sentences(TEXT), 60, overlap, count_tokens)
    return doc, chunks


def test_windows_read_each_sentence_once_and_point_back_to_the_overlap():
    doc, chunks = _doc_and_chunks()
    assert len(chunks) > 3 and all(len(c.sentences) > 1 for c in chunks)
    windows, plans = window_plan(doc, chunks, first=5)
    assert [w for w, _ in plans] == list(range(5, 5 + len(chunks)))
    assert all(w.startswith("Ports of the world\n") for w in windows)
    body = "".join(w.split("\n", 1)[1] for w in windows)
    assert sum(body.count(f"number {i} ") for i in range(40)) == 40  # no sentence read twice
    for ch, (w, old) in zip(chunks[1:], plans[1:]):
        assert len(old) == 1  # the one overlap sentence, read by the window before
        pw, s, e = old[0]
        assert pw == w - 1 and windows[pw - 5][s:e] == TEXT[ch.sentences[0].start : ch.sentences[0].end]


def test_pooling_takes_the_window_and_the_overlap_tokens():
    # window 0: 3 tokens, the last two (chars 4-9) its sentence that chunk 1 overlaps; window 1: 2 tokens
    s0 = (np.array([[1.0, 0], [0, 1.0], [0, 1.0]]), np.array([[0, 0], [4, 6], [7, 9]]))
    s1 = (np.array([[1.0, 0], [1.0, 0]]), np.array([[0, 3], [4, 5]]))
    v = pool_windows([s0, s1], [(0, []), (1, [(0, 4, 9)])])
    a = np.array([1.0, 2.0]) / np.linalg.norm([1.0, 2.0])
    b = np.array([2.0, 2.0]) / np.linalg.norm([2.0, 2.0])  # (1,0)+(1,0)+(0,1)+(0,1)
    assert np.allclose(v, [a, b])

from pathlib import Path

import pytest

from index.text.chunking import chunk_text, split_long
from index.text.cleaning import clean_text
from index.types import Span
from index.stores.sqlite.index import embed_text_for
from index.types import CleanDocument
from index.text.sentences import split_sentences
from index.text.tokens import count_tokens

SEEDS = sorted((Path(__file__).resolve().parents[3] / "seeds").glob("*.txt"))


def seed_docs():
    for p in SEEDS:
        c = clean_text(p.read_text(encoding="utf-8"))
        yield CleanDocument(doc_id=p.stem, title=c.title, text=c.text)


def test_sentences_keep_offsets_and_abbreviations():
    text = "U.S. President Joe Biden met Jan. 11 in Washington. He left.\n\nNew paragraph here. Done."
    spans = split_sentences(text)
    got = [text[s.start : s.end] for s in spans]
    assert got == ["U.S. President Joe Biden met Jan. 11 in Washington.", "He left.", "New paragraph here.", "Done."]


def test_sentences_never_cross_a_line_break():
    text = "A heading without a stop\nThe body starts here. It goes on."
    assert [text[s.start : s.end] for s in split_sentences(text)][0] == "A heading without a stop"


@pytest.mark.parametrize("max_tokens,overlap", [(160, 1), (60, 0), (40, 2)])
def test_chunks_are_exact_slices_within_budget(max_tokens, overlap):
    for doc in seed_docs():
        chunks = chunk_text(doc.doc_id, doc.text, split_sentences(doc.text), max_tokens, overlap, count_tokens)
        assert chunks
        for ch in chunks:
            assert doc.text[ch.start : ch.end] == ch.text
            assert ch.n_tokens == count_tokens(ch.text) <= max_tokens
            assert ch.text == ch.text.strip()
        for s in split_sentences(doc.text):  # no sentence, or part of one, is left out
            pieces = [u for ch in chunks for u in ch.sentences if s.start <= u.start and u.end <= s.end]
            assert pieces and min(u.start for u in pieces) == s.start and max(u.end for u in pieces) == s.end


def test_overlap_repeats_whole_sentences():
    doc = next(seed_docs())
    chunks = chunk_text(doc.doc_id, doc.text, split_sentences(doc.text), 120, 1, count_tokens)
    carried = 0
    for a, b in zip(chunks, chunks[1:]):
        assert b.start > a.start  # always progress
        if a.sentences[-1] == b.sentences[0]:  # one whole sentence carried over
            carried += 1
            assert len(b.sentences) > 1  # never a chunk that only repeats the overlap
    assert carried >= len(chunks) // 2
    no_overlap = chunk_text(doc.doc_id, doc.text, split_sentences(doc.text), 60, 0, count_tokens)
    for a, b in zip(no_overlap, no_overlap[1:]):
        assert a.end <= b.start


def test_an_overlong_sentence_is_cut_at_word_boundaries():
    text = " ".join(f"word{i}" for i in range(400)) + "."
    pieces = split_long(text, Span(0, len(text)), 50, count_tokens)
    assert len(pieces) > 1
    for p in pieces:
        assert count_tokens(text[p.start : p.end]) <= 50
        assert text[p.start].startswith("w") and (p.end == len(text) or text[p.end] == " ")
    chunks = chunk_text("d", text, [Span(0, len(text))], 50, 1, count_tokens)
    assert all(c.n_tokens <= 50 for c in chunks)


def test_seed_chunks_fit_the_embedders_word_piece_window(embedder):
    """Chunk + headline prefix (what is embedded) must stay under the model's 256 word pieces."""
    tok = embedder.tokenizer
    for doc in seed_docs():
        for ch in chunk_text(doc.doc_id, doc.text, split_sentences(doc.text), 160, 1, count_tokens):
            n = len(tok(embed_text_for(doc, ch))["input_ids"])
            assert n <= embedder.max_seq_length == 256

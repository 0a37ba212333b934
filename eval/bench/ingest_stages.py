"""Where an ingest's time goes, stage by stage, on a folder of articles: each stage of
index/preparing.py run alone over every document (reading and cleaning, sentence splitting,
chunking with token counts, mention rewriting, the model's pass over the chunks and over the
sentences), so a figure is the stage's own cost, not a share of a wrapped call. The store's writes
(SQLite rows, FTS5, FAISS) are timed on the real ingest beside it (eval/bench/ingest.py)."""
from __future__ import annotations

import time
from pathlib import Path

from index.preparing import embed_text_for
from index.text.chunking import chunk_text
from index.text.loading import discover, load_file
from index.text.mentions import rewrite_chunks, standalone
from index.text.sentences import split_sentences
from index.text.tokens import count_tokens


def _untimed(stage, fn, *a, **kw):
    return fn(*a, **kw)


def prepared(corpus: Path, chunk_tokens: int, overlap: int, timed=_untimed):
    """Each document as an ingest prepares it for embedding: (doc, chunks, their sentences in order,
    each sentence read on its own); `timed(stage, fn, *args)` runs each stage (and may time it)."""
    for path in discover([Path(corpus)])[0]:
        doc = timed("read_clean", load_file, path)
        sents = timed("split_sentences", split_sentences, doc.text)
        chunks = timed("chunk", chunk_text, doc.doc_id, doc.text, sents, chunk_tokens, overlap, count_tokens)
        units = list(dict.fromkeys(u for ch in chunks for u in ch.sentences))
        alone = timed("mentions", standalone, [doc.text[u.start:u.end] for u in units])
        yield doc, chunks, units, alone


def profile(corpus: Path, embedder, chunk_tokens: int, overlap: int) -> dict:
    """Seconds per stage, and the counts the model's cost follows (texts and word pieces)."""
    secs: dict[str, float] = {}

    def timed(stage, fn, *a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            secs[stage] = secs.get(stage, 0.0) + time.perf_counter() - t0

    chunk_texts: list[str] = []
    sentence_texts: list[str] = []
    for doc, chunks, units, alone in prepared(corpus, chunk_tokens, overlap, timed):
        timed("mentions", rewrite_chunks, doc.text, units, alone, [(ch.start, ch.end) for ch in chunks])
        chunk_texts += [embed_text_for(doc, ch) for ch in chunks]
        sentence_texts += alone
    embedder.encode(sentence_texts[:16], progress=False)  # warm
    timed("embed_chunk_pass", embedder.encode, chunk_texts, progress=False)
    timed("embed_sentence_pass", embedder.encode, sentence_texts, progress=False)
    tok = embedder.tokenizer
    pieces = {"chunk": sum(len(tok(t)["input_ids"]) for t in chunk_texts),
              "sentence": sum(len(tok(t)["input_ids"]) for t in sentence_texts)}
    total = sum(secs.values())
    return {"seconds": {k: round(v, 3) for k, v in secs.items()},
            "share": {k: round(v / total, 3) for k, v in secs.items()} if total else {},
            "chunks": len(chunk_texts), "sentences": len(sentence_texts), "word_pieces": pieces}


def report(p: dict, title: str) -> str:
    from eval.bench.common import table

    rows = [[k, v, f"{p['share'].get(k, 0):.1%}"] for k, v in p["seconds"].items()]
    return table(["stage", "seconds", "share"], rows,
                 f"{title}: {p['chunks']} chunks ({p['word_pieces']['chunk']} word pieces), "
                 f"{p['sentences']} sentences ({p['word_pieces']['sentence']} word pieces)")

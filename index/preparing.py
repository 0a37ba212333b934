"""Turning clean documents into what a store keeps: chunks, sentences, their vectors and match
texts. Shared by every store backend (index/stores/sqlite/index.py, index/stores/milvus/); no writes here."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.text.chunking import chunk_text
from index.types import Chunk, CleanDocument, Span
from index.text.mentions import rewrite_chunks, standalone
from index.text.sentences import split_sentences
from index.text.tokens import count_tokens

# a chunk's title counts as much as this share of its sentences' mean (pooled chunk vectors)
TITLE_WEIGHT = 0.5


@dataclass
class Bundle:
    """A document ready to store: its chunks, sentences and their vectors."""

    doc: CleanDocument
    chunks: list[Chunk]
    sentences: list[Span]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    # what is matched (terms, BM25) and embedded: the text with bare surnames read in full (mentions.py)
    sentence_texts: list[str]
    chunk_texts: list[str]


def embed_text_for(doc: CleanDocument, chunk: Chunk) -> str:
    # The headline gives every chunk its context (who/what the article is about).
    return f"{doc.title}\n{chunk.text}" if doc.title and not chunk.text.startswith(doc.title) else chunk.text


def pooled_chunk_vectors(sent_vecs: np.ndarray, members: list[list[int]], title_vecs: np.ndarray | None = None,
                         title_of: list[int] | None = None, title_weight: float = TITLE_WEIGHT) -> np.ndarray:
    """Pure: each chunk's vector as the normalised mean of its sentences' vectors (`members`: rows
    of sent_vecs per chunk), plus `title_weight` times its document's title vector (what the
    separate pass gets from the "title\nchunk" text it embeds)."""
    out = np.zeros((len(members), sent_vecs.shape[1]), dtype=np.float32)
    for i, rows in enumerate(members):
        v = sent_vecs[rows].mean(axis=0) if rows else np.zeros(sent_vecs.shape[1], dtype=np.float32)
        if title_vecs is not None and title_of is not None and title_of[i] >= 0:
            v = v + title_weight * title_vecs[title_of[i]]
        out[i] = v
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.clip(norms, 1e-12, None)


class Preparer:
    """Mixin of the indexes: needs `embedder`, `chunk_tokens`, `chunk_overlap`, `late_sentences`,
    `pooled_chunks`."""

    late_sentences = False
    pooled_chunks = False

    def sentence_vector_kind(self) -> str:
        return "late" if self.late_sentences and self.embedder.can_late_chunk and not self.pooled_chunks \
            else "separate"

    def chunk_vector_kind(self) -> str:
        return "pooled" if self.pooled_chunks else "separate"

    def prepare(self, docs: list[CleanDocument], progress: bool | None = None, encode=None,
                encode_spans=None) -> list[Bundle]:
        """Chunk, split and embed documents, batching the model calls across all of them.
        `encode(texts, progress)` / `encode_spans(texts, spans)`: the service's, which embed in
        slices that questions overtake."""
        pieces = []
        chunk_texts: list[str] = []
        sentence_texts: list[str] = []
        for doc in docs:
            sentences = split_sentences(doc.text)
            chunks = chunk_text(doc.doc_id, doc.text, sentences, self.chunk_tokens, self.chunk_overlap, count_tokens)
            units = [u for ch in chunks for u in ch.sentences]
            units = list(dict.fromkeys(units))  # overlap repeats sentences across chunks
            alone = standalone([doc.text[u.start : u.end] for u in units])
            match_texts = rewrite_chunks(doc.text, units, alone, [(ch.start, ch.end) for ch in chunks])
            pieces.append((doc, chunks, units, alone, match_texts))
            chunk_texts.extend(embed_text_for(doc, ch) for ch in chunks)
            sentence_texts.extend(alone)
        if self.pooled_chunks:
            chunk_vecs, sent_vecs = self._pooled(pieces, sentence_texts, encode, progress)
        elif self.late_sentences and self.embedder.can_late_chunk:
            chunk_vecs, sent_vecs = self._late(pieces, chunk_texts, sentence_texts, encode, encode_spans)
        else:
            vecs = (encode or self.embedder.encode)(chunk_texts + sentence_texts, progress=progress)
            chunk_vecs, sent_vecs = vecs[: len(chunk_texts)], vecs[len(chunk_texts) :]
        bundles, ci, si = [], 0, 0
        for doc, chunks, units, alone, match_texts in pieces:
            bundles.append(Bundle(doc, chunks, units, chunk_vecs[ci : ci + len(chunks)], sent_vecs[si : si + len(units)],
                                  alone, match_texts))
            ci += len(chunks)
            si += len(units)
        return bundles

    def _pooled(self, pieces, sentence_texts: list[str], encode, progress):
        """Sentence vectors from one pass over the sentences (and each distinct title); chunk vectors
        pooled from them: the text is read by the model once, not twice (chunks overlap, and every
        sentence was embedded again on its own)."""
        titles = list(dict.fromkeys(doc.title for doc, *_ in pieces if doc.title))
        vecs = (encode or self.embedder.encode)(sentence_texts + titles, progress=progress)
        sent_vecs, title_vecs = vecs[: len(sentence_texts)], vecs[len(sentence_texts):]
        members, title_of, base = [], [], 0
        title_row = {t: i for i, t in enumerate(titles)}
        for doc, chunks, units, _alone, _match in pieces:
            row = {u: base + i for i, u in enumerate(units)}
            for ch in chunks:
                members.append([row[u] for u in ch.sentences])
                title_of.append(title_row.get(doc.title, -1) if doc.title else -1)
            base += len(units)
        return pooled_chunk_vectors(sent_vecs, members, title_vecs, title_of), sent_vecs

    def _late(self, pieces, chunk_texts: list[str], sentence_texts: list[str], encode, encode_spans):
        """Chunk vectors, and sentence vectors pooled from the chunk pass ("late chunking": one
        forward pass instead of two). A sentence is read in the first chunk that holds it; one cut
        off by the model's window, or rewritten to stand alone (mentions.py: "Park briefed …" read as
        "… Vice Foreign Minister Park Yoon-joo briefed …", which pooling cannot carry), is embedded on
        its own: a question naming the office found that sentence only so (tests/service/pipeline)."""
        spans: list[list[tuple[int, int]]] = []
        where: list[tuple[int, int] | None] = []  # per sentence of sentence_texts: (chunk, span)
        rewritten: list[bool] = []
        ci = 0
        for doc, chunks, units, alone, _match in pieces:
            rewritten.extend(a != doc.text[u.start:u.end] for u, a in zip(units, alone))
            owner: dict[Span, tuple[int, int]] = {}
            for ch in chunks:
                prefix = len(chunk_texts[ci]) - len(ch.text)  # the title line before the chunk
                mine: list[tuple[int, int]] = []
                for u in ch.sentences:
                    if u not in owner:
                        owner[u] = (ci, len(mine))
                        mine.append((prefix + u.start - ch.start, prefix + u.end - ch.start))
                spans.append(mine)
                ci += 1
            where.extend(owner.get(u) for u in units)
        chunk_vecs, span_vecs = (encode_spans or self.embedder.encode_spans)(chunk_texts, spans)
        sent_vecs = np.zeros((len(sentence_texts), chunk_vecs.shape[1]), dtype=np.float32)
        missing = []
        for i, w in enumerate(where):
            v = span_vecs[w[0]][w[1]] if w is not None and not rewritten[i] else None
            if v is None:
                missing.append(i)
            else:
                sent_vecs[i] = v
        if missing:
            sent_vecs[missing] = (encode or self.embedder.encode)([sentence_texts[i] for i in missing], progress=False)
        return chunk_vecs, sent_vecs


__all__ = ["Bundle", "Preparer", "embed_text_for", "pooled_chunk_vectors"]

"""The generative answerer: an OpenAI-compatible LLM writes the answer from the retrieved
passages' numbered sentences, and every claim is checked against the sentences it cites
(service/answerers/llm/verify.py) before it is shown. Citations are the cited sentences' exact spans, as for
the extractive answerers; `claims` says which sentence of the answer is supported and why not."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from index.text.sentences import split_sentences
from service.answerers.base import ABSTAIN_TEXT, Answer, Answerer
from service.answerers.citations import neutralize
from service.answerers.llm.client import LLMClient
from service.answerers.llm.prompt import NOT_FOUND, answer_messages, condense_messages
from service.answerers.llm.verify import Claim, check, split_claims
from service.pipeline.retrieval import Hit
from service.schemas import Citation


def _sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in split_sentences(text)]


class LLMAnswerer(Answerer):
    name = "llm"

    def __init__(self, client: LLMClient, encode, floor: float = 0.5, drop_unsupported: bool = False,
                 max_sentences: int = 40, reader=None, encode_many=None, sentence_vectors: str = "separate"):
        self.client = client  # the passages come with their sentences and text: no store
        self.encode = encode  # text -> unit vector (the query encoder's model thread)
        # late sentence vectors (the index's manifest) are read in their chunk's context and match a claim
        # worded like their sentence less well (a supported claim was refused in tests): the offered
        # sentences are then embedded on their own, in one call (`encode_many`: texts -> unit vectors)
        self.encode_many = encode_many if sentence_vectors != "separate" else None
        self.floor = floor
        self.drop_unsupported = drop_unsupported
        self.max_sentences = max_sentences
        self.reader = reader  # the learned reader's runner (service/answerers/reader/runner.py), for read_back

    # ---- preprocess ---------------------------------------------------------------------------
    def offered(self, hits: list[Hit]) -> list[dict]:
        """The passages' sentences in retrieval order, numbered from 1, with their exact spans."""
        out, seen = [], set()
        for h in hits:  # each carries its sentences and its document's text (retrieval read them)
            for s in h.sentences:
                key = (s.doc_id, s.start)
                if key in seen:
                    continue
                seen.add(key)
                out.append({"n": len(out) + 1, "doc_id": s.doc_id, "title": h.title, "date": h.date,
                            "chunk_id": h.chunk.chunk_id, "start": s.start, "end": s.end,
                            "text": h.text[s.start:s.end], "score": h.score, "vector": s.vector})
                if len(out) >= self.max_sentences:
                    return out
        return out

    def messages(self, question: str, offered: list[dict]) -> list[dict]:
        return answer_messages(question, [(o["n"], o["title"], o["text"]) for o in offered])

    # ---- postprocess --------------------------------------------------------------------------
    def similarities(self, offered: list[dict]):
        """claim text -> {n: cosine of the claim to offered sentence n}: the stored sentence vectors, or the
        sentences embedded alone where the stored ones are late."""
        ns = [o["n"] for o in offered]
        mat = self.encode_many([o["text"] for o in offered]) if self.encode_many is not None \
            else np.stack([o["vector"] for o in offered])

        def run(text: str) -> dict[int, float]:
            return dict(zip(ns, (mat @ self.encode(text)).tolist()))

        return run

    def postprocess(self, reply: str, offered: list[dict]) -> Answer:
        by_n = {o["n"]: o for o in offered}
        if NOT_FOUND.lower() in reply.lower() or not reply.strip():
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [], debug={"reply": reply, "claims": []})
        sims = self.similarities(offered)
        claims = [check(c, {n: o["text"] for n, o in by_n.items()}, sims, self.floor,
                        read=self._read if self.reader is not None else None)
                  for c in split_claims(reply, _sentences)]
        shown = [c for c in claims if c.supported or not self.drop_unsupported]
        if not shown or not any(c.supported for c in claims):
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [], debug={"reply": reply, "claims": _dump(claims, {})})
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        parts = []
        for c in shown:
            marks = []
            for n in c.cites:
                if n not in by_n:
                    continue
                if n not in numbers:
                    o = by_n[n]
                    numbers[n] = len(numbers) + 1
                    citations.append(Citation(n=numbers[n], doc_id=o["doc_id"], title=o["title"], date=o["date"],
                                              chunk_id=o["chunk_id"], quote=o["text"], start=o["start"], end=o["end"],
                                              score=round(float(o["score"]), 4)))
                marks.append(f"[{numbers[n]}]")
            parts.append(neutralize(c.text) + (" " + "".join(marks) if marks else ""))
        supported = sum(c.supported for c in claims)
        return Answer(" ".join(parts), None, False, round(supported / len(claims), 4), citations,
                      debug={"reply": reply, "claims": _dump(shown, numbers)})

    def _read(self, question: str, passage: str) -> str | None:
        spans = self.reader.read(question, [passage])
        best = spans[0] if spans else None
        return passage[best.start:best.end] if best is not None and best.margin > 0 else None

    # ---- run ----------------------------------------------------------------------------------
    def run(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> Answer:
        offered = self.offered(hits)
        if not offered:
            return Answer(ABSTAIN_TEXT, None, True, 0.0, [])
        return self.postprocess(self.client.chat(self.messages(question, offered)), offered)

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        """The reply's text pieces as the LLM writes them, then the checked Answer."""
        offered = self.offered(hits)
        if not offered:
            yield Answer(ABSTAIN_TEXT, None, True, 0.0, [])
            return
        pieces = []
        for piece in self.client.stream(self.messages(question, offered)):
            pieces.append(piece)
            yield piece
        yield self.postprocess("".join(pieces), offered)

    def condense(self, question: str, history: list[tuple[str, str]]) -> str:
        reply = self.client.chat(condense_messages(question, history)).strip().splitlines()
        return reply[0].strip() if reply and reply[0].strip() else question


def _dump(claims: list[Claim], numbers: dict[int, int]) -> list[dict]:
    return [{"text": c.text, "citations": [numbers[n] for n in c.cites if n in numbers], "supported": c.supported,
             "reason": c.reason} for c in claims]

"""The reader's training example and the word lists its makers share: imported by data.py (which builds
the examples) and by the makers in negatives.py and paraphrase.py, so none of them imports another."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import blingfire

WORD = re.compile(r"\w+")
# a run of capitalised words (an entity) or a number/year; the unit a swap replaces
SWAPPABLE = re.compile(r"\b(?:[A-Z][\w'-]+(?:\s+(?:of|de|the|and)?\s*[A-Z][\w'-]+)*|\d[\d,.]*)\b")
STOP = frozenset("a an the of in on at to for and or is was were are be by with what which who whom "
                 "when where why how did does do that this as from its it his her their".split())


@lru_cache(maxsize=65536)  # a paragraph is compared with every question of its article
def content_words(text: str) -> frozenset[str]:
    """The lower-cased words of `text` that are not stop words: what overlap is counted in."""
    return frozenset(w for w in WORD.findall(text.lower()) if w not in STOP)


@dataclass
class Example:
    qid: str
    question: str
    context: str
    answer_text: str | None  # None: no answer in this context
    answer_start: int | None
    # answerable | paraphrased, reworded (answerable) | official_negative | other_paragraph | answer_removed |
    # swapped | swapped_within | negated | antonym | antonym_wordnet
    kind: str
    article: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    return [(int(s), int(e)) for s, e in offsets]


def answer_sentence(context: str, start: int) -> str | None:
    """The sentence of `context` that holds character `start` (None when no sentence does)."""
    return next((context[s:e] for s, e in sentence_spans(context) if s <= start < e), None)

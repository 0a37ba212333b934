"""Follow-up questions without an LLM: the question actually searched ("stand-alone"), from the
previous turn. Pure functions over plain data.

A follow-up leans on the previous turn in two ways: a pronoun for what was just talked about ("When
is *he* expected to visit?") and an ellipsis ("And Japan?"). No model that resolves coreference
ships offline for this stack (spaCy's small English pipeline has none), so the resolution is the
classic recency rule: a pronoun stands for the previous short answer when it is of the pronoun's
kind (a name for he/she, a date for then, a place-like name for there, anything for it/they),
otherwise for the previous question's subject, its first capitalised name or noun phrase. With an
LLM configured the LLM condenses the question instead (service/answerers/llm/).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_PERSON = {"he", "she", "him", "her", "his", "hers"}
_THING = {"it", "its", "they", "them", "their"}
_PLACE = {"there"}
_TIME = {"then"}
_POSSESSIVE = {"his", "her", "its", "their"}
_WORD = re.compile(r"[A-Za-z']+")
# a run of capitalised words, with the small words names contain ("Ministry of National Defense")
_NAME = re.compile(r"\b(?:[A-Z][\w.'-]*)(?:\s+(?:of|the|and|de|for)?\s*[A-Z][\w.'-]*)*")
_YEARISH = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b|\b(January|February|March|April|May|June|July|August|September|"
                      r"October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_ELLIPSIS = re.compile(r"^(?:and|what about|how about|and what about)\s+(.+?)\??$", re.I)
_QUESTION_WORDS = {"who", "what", "when", "where", "which", "why", "how", "is", "are", "was", "were", "did", "does",
                   "do", "can", "will", "would", "should", "has", "have", "had"}


@dataclass
class Turn:
    question: str
    answer: str = ""
    short_answer: str | None = None


def _is_name(text: str | None) -> bool:
    words = (text or "").split()
    return 0 < len(words) <= 6 and all(w[:1].isupper() or w.lower() in ("of", "the", "and", "de") for w in words)


def _subject(question: str) -> str | None:
    """The previous question's topic: its first capitalised name that is not the question word."""
    for m in _NAME.finditer(question):
        name = m.group(0).strip()
        if name.split()[0].lower() in _QUESTION_WORDS:
            rest = name.split(maxsplit=1)
            if len(rest) < 2:
                continue
            name = rest[1]
        return name
    m = re.search(r"\bthe\s+((?:[\w-]+\s+){0,3}[\w-]+?)(?=\s+(?:is|are|was|were|did|do|does|has|have|in|of|on|to|for)\b|\?|$)",
                  question, re.I)
    return f"the {m.group(1)}" if m else None


def _referent(kind: set[str], prev: Turn) -> str | None:
    short = (prev.short_answer or "").strip() or None
    if kind is _PERSON:  # a name of two words or more: "U.S." is not a "he"
        subject = _subject(prev.question)
        return short if _is_name(short) else subject if _is_name(subject) and len(subject.split()) > 1 else None
    if kind is _TIME:
        m = _YEARISH.search(short or "")
        if not m:
            return None
        weekday = m.group(2) and m.group(2).endswith("day")
        return f"{'on' if weekday else 'in'} {short}"
    if kind is _PLACE:
        return f"in {short}" if _is_name(short) else None
    if short and not _YEARISH.search(short) and not any(c.isdigit() for c in short):
        return short
    return _subject(prev.question)


def resolve(question: str, history: list[Turn]) -> str:
    """The question with its references to the previous turn written out; unchanged without one."""
    if not history:
        return question
    prev = history[-1]
    q = question.strip()
    m = _ELLIPSIS.match(q)
    if m:  # "And Japan?" -> the previous question about Japan instead of its subject
        new = m.group(1).strip()
        old = _subject(prev.question)
        return prev.question.replace(old, new, 1) if old and old in prev.question else f"{prev.question} {new}"
    out, changed = [], False
    pos = 0
    for w in _WORD.finditer(q):
        low = w.group(0).lower()
        kind = next((k for k in (_PERSON, _THING, _PLACE, _TIME) if low in k), None)
        if kind is None:
            continue
        ref = _referent(kind, prev)
        if not ref:
            continue
        if low in _POSSESSIVE:
            ref = f"{ref}'s"
        out.append(q[pos:w.start()])
        out.append(ref)
        pos = w.end()
        changed = True
    if not changed:
        return question
    out.append(q[pos:])
    return "".join(out)


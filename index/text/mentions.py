"""Stand-alone sentences: a bare surname is read with the title it was introduced with.

News copy introduces a person once, in full ("South Korea's First Vice Foreign Minister Park
Yoon-joo"), and then says "Park briefed his counterparts …". Embedded or matched alone, that
sentence no longer says who Park is, so a question about "the deputy foreign minister" misses it.
Sentence decontextualization (Choi et al., 2021) rewrites such sentences to stand alone; here the
rewrite is a rule: the first bare mention of an introduced surname gets the introduction. The
rewritten text is only embedded and matched: quotes and offsets always come from the article.
Pure functions over strings, no model (none that resolves coreference installs offline here).
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_NAME_PART = r"[A-Z][a-z]+(?:-[a-z]+)?"
_NAME = rf"{_NAME_PART}(?:\s+{_NAME_PART}){{1,2}}"
_OFFICE = (r"(?:Minister|Secretary(?: General)?|Adviser|Advisor|President|Spokesman|Spokeswoman|Spokesperson|"
           r"Ambassador|Director|Chairman|Chairwoman|Chancellor|Premier|Envoy|Commander|General|Admiral|"
           r"Senator|Governor|Mayor|Chief)")
_OFFICE_WORD = (r"(?:First|Second|Deputy|Vice|Prime|Foreign|Defen[cs]e|National|Security|Senior|Chief|Principal|"
                r"Trade|Finance|Cabinet|White House|Special|State|Executive|Joint|Chiefs?|of|Staff)")
_OFFICE_WORDS = rf"(?:{_OFFICE_WORD}\s+)*"
# whose office it is: one or two capitalised words, possibly possessive, that are not the office's
# own ("South Korea's", "Japanese", "U.S.", "Unification"); no list of countries, so any corpus's work
_OWNER_WORD = rf"(?!(?:{_OFFICE_WORD}|{_OFFICE})\b)[A-Z][\w.’'-]*"
_OWNER = rf"(?:(?:the\s+)?{_OWNER_WORD}(?:\s+{_OWNER_WORD})?(?:[’']s)?\s+)?"
# "South Korea's First Vice Foreign Minister Park Yoon-joo", "U.S. Secretary of State Antony Blinken"
_TITLED = re.compile(rf"({_OWNER}{_OFFICE_WORDS}{_OFFICE}(?:\s+of\s+(?:State|Defen[cs]e|[A-Z][a-z]+))?)\s+({_NAME})\b")
# "John Kirby, the White House national security spokesman,"
_APPOSITIVE = re.compile(rf"\b({_NAME}),\s+(?:the|a|an)\s+([^,.;]{{3,80}}?(?:minister|secretary|adviser|advisor|"
                         r"president|spokesman|spokeswoman|spokesperson|ambassador|director|chairman|envoy|"
                         r"official|chief|commander|general|leader))\b")


@dataclass(frozen=True)
class Person:
    full: str        # "Park Yoon-joo"
    intro: str       # "South Korea's First Vice Foreign Minister Park Yoon-joo"
    titled: str      # "First Vice Foreign Minister Park Yoon-joo" (for "Japan's Funakoshi")
    surnames: tuple[str, ...]


def _surnames(full: str) -> tuple[str, ...]:
    parts = full.split()
    # East Asian order puts the family name first ("Park Yoon-joo", "Akiba Takeo"); Western last.
    # Either may be the one used alone later, so both ends count, but never a hyphenated given name.
    return tuple(dict.fromkeys(p for p in (parts[0], parts[-1]) if "-" not in p))


_OWNER_PREFIX = re.compile(_OWNER)
# what each pattern cannot match without: searched first, since most sentences introduce nobody and the
# full patterns cost ~0.1 ms a sentence (0.5 s of ten long articles' ingest)
_HAS_OFFICE = re.compile(_OFFICE)
_HAS_APPOSITION = re.compile(r",\s+(?:the|a|an)\s")


def introductions(sentence: str) -> list[Person]:
    found = []
    for m in (_TITLED.finditer(sentence) if _HAS_OFFICE.search(sentence) else ()):
        title = m.group(1)
        bare = title[_OWNER_PREFIX.match(title).end():]
        found.append(Person(m.group(2), f"{title} {m.group(2)}", f"{bare} {m.group(2)}", _surnames(m.group(2))))
    for m in (_APPOSITIVE.finditer(sentence) if _HAS_APPOSITION.search(sentence) else ()):
        intro = f"{m.group(2)} {m.group(1)}"
        found.append(Person(m.group(1), intro, intro, _surnames(m.group(1))))
    return found


_NAME_TOKEN = re.compile(rf"(?<![\w-]){_NAME_PART}(?![\w-])")


def _bare_mentions(sentence: str, people: dict[str, Person]) -> list[tuple[int, int, Person]]:
    """Surnames standing alone (not inside a longer name) of people not named in full here."""
    tokens = list(_NAME_TOKEN.finditer(sentence))
    out, seen = [], set()
    for i, m in enumerate(tokens):
        person = people.get(m.group())
        if person is None or person.full in seen or person.full in sentence:
            continue
        joined_before = i > 0 and sentence[tokens[i - 1].end() : m.start()] == " "
        joined_after = i + 1 < len(tokens) and sentence[m.end() : tokens[i + 1].start()] == " "
        if joined_before or joined_after:  # "Yoon Suk Yeol", "President Yoon": a name or title is there
            continue
        seen.add(person.full)
        out.append((m.start(), m.end(), person))
    return out


def standalone(sentences: list[str]) -> list[str]:
    """Each sentence of one article, with the first bare mention of an introduced person expanded
    to the introduction ("Park briefed …" → "South Korea's First Vice Foreign Minister Park Yoon-joo
    briefed …"). The nearest earlier introduction wins when two people share a surname."""
    known: dict[str, Person] = {}
    out: list[str] = []
    for sent in sentences:
        text = sent
        for start, end, person in reversed(_bare_mentions(sent, known)):
            possessive = re.search(r"[’']s\s+$", sent[:start]) is not None  # "Japan's Funakoshi"
            text = text[:start] + (person.titled if possessive else person.intro) + text[end:]
        out.append(text)
        for p in introductions(sent):
            for s in p.surnames:
                known[s] = p
    return out


def rewrite(text: str, spans: list, rewritten: list[str], start: int, end: int) -> str:
    """text[start:end] with each sentence span inside it replaced by its rewritten form."""
    return rewrite_chunks(text, spans, rewritten, [(start, end)])[0]


def rewrite_chunks(text: str, spans: list, rewritten: list[str], bounds: list[tuple[int, int]]) -> list[str]:
    """`rewrite` for every (start, end) of `bounds` at once. The spans (in text order, as the
    chunker gives them) are bisected per chunk: walking all of a document's sentences for each of
    its chunks made ingest quadratic in document length (1.6 s of this step at 20k lines)."""
    if any(a.start > b.start for a, b in zip(spans, spans[1:])):
        order = sorted(range(len(spans)), key=lambda i: spans[i].start)
        spans, rewritten = [spans[i] for i in order], [rewritten[i] for i in order]
    starts = [sp.start for sp in spans]
    out = []
    for start, end in bounds:
        parts, pos = [], start
        for i in range(bisect.bisect_left(starts, start), len(spans)):
            span = spans[i]
            if span.start >= end:
                break
            if span.end <= end:
                parts.append(text[pos : span.start])
                parts.append(rewritten[i])
                pos = span.end
        parts.append(text[pos:end])
        out.append("".join(parts))
    return out

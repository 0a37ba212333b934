"""Where answers of a question's type (service/answerers/extractive/question_types.py) stand in a sentence: dates,
numbers, people, places, names, and the one nearest the question's words.

Only the fallback answerer (service/answerers/extractive/answerer.py, used when no reader model is
present) reads these: rules that cost microseconds and need no model. They hold no list of any
corpus's places or people (those only helped the seed articles: removing them moved the team's set
from 86.7 to 84.7 % and dev6 from 0.444 to 0.448 overall); where a capitalised run stands tells a
place from a person. Every function is pure: strings in, (start, end) spans out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from service.answerers.extractive.question_types import HOW_MANY, NAME, WHEN, WHERE, WHO

# ---- span patterns ------------------------------------------------------------------------
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DATE_PATTERNS = [
    rf"\b{_MONTH}\s+\d{{1,2}}(?!\d)(?:\s*[-–]\s*\d{{1,2}})?(?:,?\s+(?:19|20)\d{{2}})?",  # Jan. 21-24, October 22, 2023
    rf"\b\d{{1,2}}\s+{_MONTH}(?:\s+(?:19|20)\d{{2}})?",  # 22 October 2023
    rf"\b(?:early |mid-|late )?{_MONTH}(?:\s+(?:of\s+)?(?:19|20)\d{{2}})?(?![\w-])",  # December 2023, April
    r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b",
    r"\b(?:(?:early|mid|late)[- ])?(?:19|20)\d{2}s?\b",  # 2018, the 1990s
    rf"\b(?:(?:last|next|this|on|late|early)\s+)?{_WEEKDAY}\b",
    r"(?i:\b(?:last|next|this|later this|earlier this|early next|later next|the same|the previous|the following)\s+"
    r"(?:week|month|year|decade|spring|summer|autumn|fall|winter|weekend)\b)",
    r"(?i:\b(?:earlier|later) (?:this|in the) (?:year|month|week)\b)",
    r"(?i:\b(?:today|yesterday|tomorrow|recently)\b)",
    r"(?i:\bthe day (?:before|after) [\w\s]{1,30}?\b(?=[,.]|$))",
    r"\bsince (?:19|20)\d{2}\b",
]
_date = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS))
# "May" as a month only before a day or a year ("may" the verb is far more common)
_ambiguous_may = re.compile(r"^May$")

_NUM_WORDS = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
              r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
              r"hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|several|a few)")
_number = re.compile(
    rf"(?<![\w.])(?:\$|US\$|₩|¥)?\d+(?:,\d{{3}})*(?:\.\d+)?(?:\s*(?:%|percent|million|billion|trillion))?(?![\w])"
    rf"|\b{_NUM_WORDS}(?:[- ]{_NUM_WORDS})*\b",
    re.I,
)
_year_like = re.compile(r"^(?:19|20)\d{2}$")

_TITLE = (r"(?:President|Prime Minister|PM|Secretary(?: General)?(?: of (?:State|Defense))?|Deputy Secretary(?: of State)?"
          r"|Minister|Vice (?:Foreign )?Minister|First Vice Foreign Minister|Foreign Minister|Defense Minister"
          r"|Ambassador|Adviser|Advisor|Spokesman|Spokesperson|General|Gen\.|Admiral|Chairman|Leader|Reporter)")
# capitalised words that are not names of people: calendar words, the nouns of institutions and
# geography, sentence openers. General English only: nothing here names a place or person of any corpus
_NOT_PERSON = re.compile(
    r"\b(?:United|States|Kingdom|Republic|Union|Nations|Federation|Peninsula|Sea|Ocean|Island|Islands|"
    r"River|Mountains?|North|South|East|West|Northern|Southern|Eastern|Western|Central|Ministry|Ministers?|"
    r"Department|House|Council|Office|Times|Daily|News|Summit|Chamber|Commerce|Industries|Business|Forces|"
    r"Security|National|Defense|Foreign|Affairs|Court|Supreme|New|Year|Federal|Administration|Presidential|"
    r"Secretariat|Assembly|Party|Army|Navy|Air|Force|Command|Agency|Group|Bank|Association|Board|Committee|"
    r"Commission|Institute|University|Company|Corporation|Government|Parliament|Congress|Senate|Embassy|"
    r"The|This|That|These|Those|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|"
    r"March|April|May|June|July|August|September|October|November|December|World|Cooperation|Alliance|"
    r"Relations|Military|Technology|Economy|Said|Says|However|Meanwhile|Besides|Starting|Also)\b"
)
_OFFICE = re.compile(
    r"\b(?:(?:the|a|an|his|her|its|their)\s+)?(?:[\w’'-]+\s+){0,3}?(?:ministry|office|government|officials?|ministers?|presidents?|"
    r"secretary|adviser|advisor|spokes(?:man|person|woman)|leaders?|chiefs?|diplomats|counterparts?|reporters?|"
    r"analysts|house|court|companies|paper|daily|pentagon)\b",
    re.I,
)

# a capitalised run ("Tokyo", "Korean Peninsula", "U.S."); `places` keeps the ones after
# "in", "at", "to" …, so no gazetteer (of any corpus) is needed
_place = re.compile(r"\b[A-Z][\w.’'-]*(?:\s+(?:of\s+)?[A-Z][\w.’'-]*){0,3}")
_NAME_SPAN = re.compile(r"[“\"‘'][^“”\"‘’']{2,60}[”\"’']|\b[A-Z][\w-]*(?:\s+[A-Z0-9][\w-]*)+")


@dataclass(frozen=True)
class TypedSpan:
    start: int
    end: int
    text: str
    kind: str


def _spans(pattern: re.Pattern, text: str, kind: str) -> list[TypedSpan]:
    return [TypedSpan(m.start(), m.end(), m.group(), kind) for m in pattern.finditer(text) if m.group().strip()]


def dates(text: str) -> list[TypedSpan]:
    return [s for s in _spans(_date, text, WHEN) if not _ambiguous_may.match(s.text)]


def numbers(text: str) -> list[TypedSpan]:
    out = []
    for s in _spans(_number, text, HOW_MANY):
        if _year_like.match(s.text):  # a year is a date, not a count
            continue
        out.append(s)
    return out


_CAP_RUN = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*")
_INITIALS = re.compile(r"(?:[A-Z]\.)+")
_ABBREV = re.compile(rf"{_INITIALS.pattern}|[A-Z][a-z]{{0,3}}\.")
_title_word = re.compile(rf"^(?:{_TITLE}|Prime|Vice|Deputy|First|General|State|Defense|of)$")


_AT = "in|at|near|inside|outside|across|around"
# before a place, not a person ("to" and "from" are left out: "wrote to Sullivan", "a call from Biden")
_AT_PLACE = re.compile(rf"\b(?:{_AT})\s+(?:the\s+)?$", re.I)


def _not_person(word: str) -> bool:
    parts = [p for p in word.split("-") if p]
    return bool(_NOT_PERSON.fullmatch(word)) or any(_NOT_PERSON.fullmatch(p) or p.endswith(".") for p in parts) \
        or word in {"U.S.", "US", "UN", "U.N.", "PM"} or word.endswith(".")


_SMALL_WORDS = frozenset("a an the of in on at to for and or but with by as vs from into over".split())


def _headline(text: str) -> bool:
    """A title-cased line ("Allies Strengthen Trilateral Cooperation") names no one by its capitals:
    every word is capitalised but the small ones a title leaves lower-case."""
    words = re.findall(r"[^\W\d_][\w’'.-]*", text)
    return len(words) >= 3 and all(w[0].isupper() or w in _SMALL_WORDS for w in words)


def _emit_name(text: str, name: list, titled: bool, out: list[TypedSpan]) -> None:
    if len(name) >= 2 or (name and titled):
        out.append(TypedSpan(name[0][0], name[-1][1], text[name[0][0] : name[-1][1]], WHO))


def people(text: str) -> list[TypedSpan]:
    """Person names inside runs of capitalised words: titles and non-name words before a name are
    skipped ("South Korea’s First Vice Foreign Minister Park Yoon-joo" → "Park Yoon-joo"). A name is
    two words or more, or one word right after a title ("President Yoon"). Without a gazetteer,
    places are told apart by where they stand: a run right after "in", "at" … is a place ("met at
    Camp David"), and a possessive followed by an office is whose office it is ("South Korea’s
    Foreign Minister")."""
    out: list[TypedSpan] = []
    if _headline(text):
        return out
    for run in _CAP_RUN.finditer(text):
        if _AT_PLACE.search(text[max(0, run.start() - 12):run.start()]):
            continue
        words = []
        for m in re.finditer(r"\S+", run.group()):
            w, end = m.group(), run.start() + m.end()
            if w.endswith(".") and not _ABBREV.fullmatch(w):  # "Sullivan." ends the sentence
                w, end = w[:-1], end - 1
            words.append((run.start() + m.start(), end, w))
        name: list = []
        titled = False
        for i, w in enumerate(words):
            bare = re.sub(r"[’']s$", "", w[2])  # "Korea’s" is Korea, "Kishida’s" is Kishida
            if _title_word.match(bare) or _not_person(bare):
                _emit_name(text, name, titled, out)
                name, titled = [], bool(_title_word.match(bare))
            elif bare != w[2]:  # a possessive ends the name, or names whose office follows
                if not (i + 1 < len(words) and _title_word.match(words[i + 1][2])):
                    _emit_name(text, name + [(w[0], w[0] + len(bare), bare)], titled, out)
                name, titled = [], False
            else:
                name.append(w)
        _emit_name(text, name, titled, out)
    return out


def offices(text: str) -> list[TypedSpan]:
    return _spans(_OFFICE, text, "office")


_LOCATIVE = re.compile(rf"\b(?:{_AT}|to|from)\s+(?:the\s+|a\s+|an\s+)?$", re.I)


def places(text: str) -> list[TypedSpan]:
    """Places where something happens: after "in", "at", "to" … ("held in Tokyo"), not a capital
    standing for its government ("Tokyo maintains …")."""
    out = []
    for s in _spans(_place, text, WHERE):
        if not _LOCATIVE.search(text[max(0, s.start - 12) : s.start]):
            continue
        last = s.text.split()[-1]
        if last.endswith(".") and not _INITIALS.fullmatch(last):  # "… in Malaysia." ends the sentence
            s = TypedSpan(s.start, s.end - 1, s.text[:-1], s.kind)
        out.append(s)
    return out


def names(text: str) -> list[TypedSpan]:
    return _spans(_NAME_SPAN, text, NAME)


_DAY_LEVEL = re.compile(rf"\d|{_WEEKDAY}|\b(?:today|yesterday|tomorrow)\b", re.I)


def spans_for(qtype: str, text: str, sub: str | None = None) -> list[TypedSpan]:
    """Candidate answer spans of the question's type in `text` (empty for untyped questions)."""
    return list(_spans_for(qtype, text, sub))


@lru_cache(maxsize=32768)
def _spans_for(qtype: str, text: str, sub: str | None) -> tuple[TypedSpan, ...]:
    # pure and regex-heavy; the same sentences come back question after question
    return tuple(_find_spans(qtype, text, sub))


def _find_spans(qtype: str, text: str, sub: str | None) -> list[TypedSpan]:
    if qtype == WHEN:
        found = dates(text)
        return [s for s in found if _DAY_LEVEL.search(s.text) and not _year_like.match(s.text)] if sub == "day" else found
    if qtype == HOW_MANY:
        return numbers(text)
    if qtype == WHO:
        return people(text) if sub == "person" else (people(text) or offices(text))
    if qtype == WHERE:
        return places(text)
    if qtype == NAME:
        return names(text)
    return []


_norm = re.compile(r"[\W_]+")


def _key(s: str) -> str:
    return _norm.sub(" ", s.casefold()).strip()


_GENERIC_NAME_WORDS = re.compile(rf"^(?:{_TITLE}|South|North|East|West|U\.S\.|US|National|Security|"
                                 r"Foreign|Vice|First|Deputy|State|Defense|the|The)$")


def novel_spans(qtype: str, sentence: str, question: str, focus: str | None = None, sub: str | None = None) -> list[TypedSpan]:
    """Typed spans of the sentence that the question does not already contain.

    A person counts as named by the question when any distinctive word of the name is in it
    ("President Yoon Suk Yeol" for a question about "President Yoon"). A number must count the
    question's focus ("seven leaders' summits" for "how many leaders' summits")."""
    q = f" {_key(question)} "
    q_words = set(q.split())
    out = []
    for span in spans_for(qtype, sentence, sub):
        k = _key(span.text)
        if not k or f" {k} " in q:
            continue
        if span.kind in (WHO, NAME):  # a person or name the question already mentions
            distinctive = [w for w in span.text.split() if not _GENERIC_NAME_WORDS.match(w)]
            if any(_key(w) in q_words for w in distinctive if len(_key(w)) > 2):
                continue
        if qtype == HOW_MANY and focus and not _counts(sentence, span, focus):
            continue
        out.append(span)
    return out


def _stem_words(text: str) -> set[str]:
    from index.text.terms import terms

    return set(terms(text))


def _counts(sentence: str, span: TypedSpan, focus: str) -> bool:
    """The number is followed, within a few words, by the counted noun (the focus's head)."""
    after = " ".join(sentence[span.end :].split()[:5])
    head = focus.split()[-1] if focus.split() else focus
    return bool(_stem_words(after) & _stem_words(head))


def pick_short_answer(qtype: str, sentence: str, question: str, question_terms: set[str], term_fn,
                      focus: str | None = None, sub: str | None = None) -> TypedSpan | None:
    """The typed span of the sentence nearest to the words it shares with the question."""
    cands = novel_spans(qtype, sentence, question, focus, sub)
    if not cands:
        return None
    anchors = [m.start() for m in re.finditer(r"[^\W_]+(?:[-'’][^\W_]+)*", sentence)
               if set(term_fn(m.group())) & question_terms]
    if not anchors:
        return cands[0]

    def distance(span: TypedSpan) -> float:
        return min(abs(a - span.start) for a in anchors)

    return min(cands, key=distance)


def near_all(sentence: str, span: TypedSpan, focus_terms: set[str], term_fn, window: int = 6) -> bool:
    """Every focus term stands within `window` words of the span."""
    return all(near(sentence, span, {t}, term_fn, window) for t in focus_terms)


def near(sentence: str, span: TypedSpan, focus_terms: set[str], term_fn, window: int = 6) -> bool:
    """The span overlaps, or stands within `window` words of, a word of the focus."""
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", sentence)]
    for i, (_, _, w) in enumerate(words):
        if set(term_fn(w)) & focus_terms:
            lo = words[max(0, i - window)][0]
            hi = words[min(len(words) - 1, i + window)][1]
            if span.start < hi and span.end > lo:
                return True
    return False

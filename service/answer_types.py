"""What kind of answer a question wants, and where such answers stand in a sentence.

Rule-based on purpose: no NER or QA model can be installed offline here (see MODELS.md), and
rules cost microseconds, which keeps an answer within a small margin of the query embedding.
Every function is pure: strings in, (start, end) spans out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

WHEN, HOW_MANY, WHO, WHERE, WHY, HOW, WHAT, YESNO = "when", "how-many", "who", "where", "why", "how", "what", "yes-no"
TYPED = {WHEN, HOW_MANY, WHO, WHERE}  # types whose answer is a span we can recognise

_Q_RULES: list[tuple[str, str]] = [
    (HOW_MANY, r"\bhow (many|much)\b|\bwhat (number|percentage|share|amount) of\b|\bnumber of\b.*\?$"),
    (WHEN, r"^(when|since when|until when|by when)\b|\b(what|which) (year|month|day|date|time|week)\b"
           r"|\bon what (date|day)\b|\bwhen\b"),
    (WHO, r"^(who|whom|whose)\b|\b(which|what) (person|people|official|officials|minister|leader|leaders|president"
          r"|adviser|advisor|reporter|journalist|diplomat|diplomats|spokesman|spokesperson|author|newspaper|paper|daily)\b"
          r"|\bwho\b"),
    (WHERE, r"^where\b|\b(in|at) (what|which) (city|country|place|venue|location|hotel|capital)\b"
            r"|\b(what|which) (city|country|place|venue|location|capital)\b|\bwhere\b"),
    (WHY, r"^why\b|\b(what|which) (was|is|were|are) the (purpose|reason|goal|aim|motive)s?\b|\bfor what (purpose|reason)\b"
          r"|\bwhy\b"),
    (HOW, r"^how\b"),
    (YESNO, r"^(is|are|was|were|do|does|did|can|could|will|would|has|have|had|should)\b"),
]
_q_rules = [(t, re.compile(p, re.I)) for t, p in _Q_RULES]


def question_type(question: str) -> str:
    q = question.strip()
    for qtype, rule in _q_rules:
        if rule.search(q):
            return qtype
    return WHAT


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
    r"\bthe day (?:before|after) [\w\s]{1,30}?\b(?=[,.]|$)",
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
_NAME_PART = r"[A-Z][a-z]+(?:-[a-z]+|-[A-Z][a-z]+)?"
_person = re.compile(rf"\b(?:{_TITLE}\s+)?{_NAME_PART}(?:\s+{_NAME_PART}){{1,3}}\b")
# capitalised phrases that are not people
_NOT_PERSON = re.compile(
    r"\b(?:Korea|Korean|Japan|Japanese|United|States|America|American|China|Chinese|Russia|Russian|Ukraine|"
    r"Washington|Seoul|Tokyo|Beijing|Pyongyang|Camp|David|Pacific|Indo|Peninsula|Ministry|Ministers?|Department|House|"
    r"Council|Office|Times|Ilbo|Daily|News|Dialogue|Summit|Federation|Chamber|Commerce|Industries|Business|Forces|"
    r"Security|National|Defense|Foreign|Affairs|Nations|Court|Supreme|Lunar|New|Year|Twitter|Facebook|Federal|"
    r"Administration|Presidential|Secretariat|Assembly|Party|Army|Navy|Air|Force|Command|Agency|Group|Bank|Association|"
    r"Malaysia|ASEAN|Critical|Emerging|Technologies|Generation|Next|Standards|Board|The|This|That|These|Those|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Kicker|World|Load|More|Check|Also)\b"
)
_OFFICE = re.compile(
    r"\b(?:(?:the|a|an|his|her|its|their)\s+)?(?:[\w’'-]+\s+){0,3}?(?:ministry|office|government|officials?|minister|president|"
    r"secretary|adviser|advisor|spokes(?:man|person|woman)|leaders?|chiefs?|diplomats|counterparts?|reporters?|"
    r"analysts|house|court|companies|paper|daily|pentagon)\b",
    re.I,
)

_PLACES = [
    "Seoul", "Tokyo", "Washington", "Pyongyang", "Beijing", "Moscow", "Camp David", "Yongsan", "Malaysia", "Kuala Lumpur",
    "Ukraine", "Russia", "China", "Japan", "South Korea", "North Korea", "Korea", "the United States", "the U.S.", "US",
    "Korean Peninsula", "Indo-Pacific", "Pacific", "Dokdo", "Busan", "Hiroshima", "Jeju", "Maryland", "New York",
    "Hawaii", "Guam", "Okinawa", "Taiwan", "Manila", "Jakarta", "Singapore", "Vietnam", "Hanoi", "Europe", "Asia",
    "the State Department", "the White House", "the Pentagon", "Yongsan presidential office", "a Seoul hotel",
    "a hotel in central Seoul", "central Seoul", "the Camp David presidential retreat",
]
_place = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in sorted(_PLACES, key=len, reverse=True)) + r")(?![\w])"
    r"|(?<=\bin )[A-Z][\w-]+(?:\s+[A-Z][\w-]+){0,3}|(?<=\bat )[A-Z][\w-]+(?:\s+[A-Z][\w-]+){0,3}"
)


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


def people(text: str) -> list[TypedSpan]:
    out = []
    for m in _person.finditer(text):
        words = m.group().split()
        # drop a title-only or all-non-person phrase ("South Korea", "Camp David")
        named = [w for w in words if not _NOT_PERSON.fullmatch(w) and not re.fullmatch(_TITLE, w)]
        if len(named) >= 2 or (len(named) >= 1 and re.match(_TITLE, m.group())):
            out.append(TypedSpan(m.start(), m.end(), m.group(), WHO))
    return out


def offices(text: str) -> list[TypedSpan]:
    return _spans(_OFFICE, text, WHO)


def places(text: str) -> list[TypedSpan]:
    return _spans(_place, text, WHERE)


def spans_for(qtype: str, text: str) -> list[TypedSpan]:
    """Candidate answer spans of the question's type in `text` (empty for untyped questions)."""
    if qtype == WHEN:
        return dates(text)
    if qtype == HOW_MANY:
        return numbers(text)
    if qtype == WHO:
        return people(text) or offices(text)
    if qtype == WHERE:
        return places(text)
    return []


_norm = re.compile(r"[\W_]+")


def _key(s: str) -> str:
    return _norm.sub(" ", s.casefold()).strip()


def novel_spans(qtype: str, sentence: str, question: str) -> list[TypedSpan]:
    """Typed spans of the sentence that the question does not already contain."""
    q = f" {_key(question)} "
    out = []
    for span in spans_for(qtype, sentence):
        k = _key(span.text)
        if k and f" {k} " not in q:
            out.append(span)
    return out


def pick_short_answer(qtype: str, sentence: str, question: str, question_terms: set[str], term_fn) -> TypedSpan | None:
    """The typed span of the sentence nearest to the words it shares with the question."""
    cands = novel_spans(qtype, sentence, question)
    if not cands:
        return None
    anchors = [m.start() for m in re.finditer(r"[^\W_]+(?:[-'’][^\W_]+)*", sentence)
               if set(term_fn(m.group())) & question_terms]
    if not anchors:
        return cands[0]

    def distance(span: TypedSpan) -> float:
        return min(abs(a - span.start) for a in anchors)

    return min(cands, key=distance)

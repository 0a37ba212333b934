"""What kind of answer a question wants, and where such answers stand in a sentence.

Rule-based on purpose: no NER or QA model can be installed offline here (see MODELS.md), and
rules cost microseconds, which keeps an answer within a small margin of the query embedding.
Every function is pure: strings in, (start, end) spans out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

WHEN, HOW_MANY, WHO, WHERE, WHY, HOW, WHAT, YESNO = "when", "how-many", "who", "where", "why", "how", "what", "yes-no"
TYPED = {WHEN, HOW_MANY, WHO, WHERE, "name"}  # types whose answer is a span we can recognise

# "which U.S. official", "what exact day", but not "what did the officials …"
_WH = (r"\b(?:which|what)\s+(?:(?!(?:did|does|do|is|was|were|are|will|would|has|have|had|can|could|should)\b)"
       r"[\w.’'-]+\s+){0,3}?")
NAME = "name"
_Q_RULES: list[tuple[str, str]] = [
    (HOW_MANY, r"\bhow (many|much)\b|\bwhat (number|percentage|share|amount) of\b|\bnumber of\b.*\?$"),
    (NAME, r"\b(what|which) (is|was|were|are) the (code ?)?names? of\b|\bcode ?name\b|\bwhat (is|was) (it|\w+) called\b"
           r"|\bwhat (is|was) the title of\b"),
    (WHEN, rf"^(when|since when|until when|by when)\b|{_WH}(year|month|day|date|time|week)s?\b|\bwhen\b"),
    (WHO, rf"^(who|whom|whose)\b|{_WH}(person|people|official|officials|minister|ministers|leader|leaders|president"
          r"|adviser|advisor|advisers|reporter|journalist|diplomat|diplomats|spokesman|spokesperson|author|chief|head"
          r"|envoy|envoys|counterpart|secretary|coordinator)\b|\bwho\b"),
    (WHERE, rf"^where\b|{_WH}(city|cities|country|place|venue|location|hotel|capital|town)\b|\bwhere\b"),
    (WHY, r"^why\b|\b(what|which) (was|is|were|are) the (purpose|reason|goal|aim|motive)s?\b|\bfor what (purpose|reason)\b"
          r"|\bwhy\b"),
    (HOW, r"^how\b"),
    (YESNO, r"^(is|are|was|were|do|does|did|can|could|will|would|has|have|had|should)\b"),
]
_q_rules = [(t, re.compile(p, re.I)) for t, p in _Q_RULES]


_LEADING = [(WHO, r"^(who|whom|whose)\b"), (WHEN, r"^when\b"), (WHERE, r"^where\b"), (WHY, r"^why\b"),
            (HOW_MANY, r"^how (many|much)\b")]
_leading = [(t, re.compile(p, re.I)) for t, p in _LEADING]


# ", in which officials sit down …,": a relative clause inside the question, not its wh-word
_RELATIVE = re.compile(r",\s*(?:in|of|at|on|during|by|through|under|for|from|with|to|after|before)\s+(?:which|whom)\b[^,?]*",
                       re.I)


def question_type(question: str) -> str:
    q = _RELATIVE.sub("", question.strip())
    for qtype, rule in _leading:  # the opening wh-word wins over one later in the question
        if rule.search(q):
            return qtype
    for qtype, rule in _q_rules:
        if rule.search(q):
            return qtype
    return WHAT


_OFFICE_Q = re.compile(r"\b(?:minister|president|secretary|adviser|advisor|spokes(?:man|person|woman)|ambassador|"
                       r"chief|head|leader|counterpart|official|envoy|coordinator|diplomat|reporter)\b", re.I)
_CITY_Q = re.compile(rf"{_WH}(city|cities|town|capital)\b", re.I)
_DAY_Q = re.compile(rf"{_WH}(day|date)\b|\bexact (day|date)\b", re.I)
_HOW_MANY_FOCUS = re.compile(r"\bhow (?:many|much)\s+((?:[\w.’'-]+\s+){0,3}?[\w’'-]+)\s+(?:did|do|does|are|were|is|was|have|has|had|will|would|can|could)\b", re.I)


def subtype(question: str, qtype: str) -> str | None:
    """A narrower type where the question asks for one: a city (not any place), a day (not a year)."""
    if qtype == WHERE and _CITY_Q.search(question):
        return "city"
    if qtype == WHEN and _DAY_Q.search(question):
        return "day"
    if qtype == WHO and re.match(r"\s*(who|whom|whose)\b", question, re.I) and _OFFICE_Q.search(question):
        return "person"  # "who read the president's statement": an office does not answer, a name does
    return None


_WHO_IS_OFFICE = re.compile(
    r"^\s*who\s+(?:is|was|are|were)\s+(?:the\s+|a\s+|an\s+)?((?:[\w’'.-]+\s+){0,6}?(?:minister|president|secretary|"
    r"adviser|advisor|spokes(?:man|person|woman)|ambassador|chief|head|leader|counterpart|official|envoy|"
    r"coordinator|diplomat|reporter))\b", re.I)
_COUNTRY_TERMS = {"japan", "korea", "usa", "china", "russia", "south", "north"}


def office_focus(question: str) -> str | None:
    """The office a "who is/was X" question names ("Japan's defense minister"): the person who
    answers must be named next to it."""
    m = _WHO_IS_OFFICE.search(question)
    return m.group(1) if m else None


def near_all(sentence: str, span: TypedSpan, focus_terms: set[str], term_fn, window: int = 6) -> bool:
    """Every focus term stands within `window` words of the span."""
    return all(near(sentence, span, {t}, term_fn, window) for t in focus_terms)


def office_terms(office: str | None, term_fn) -> set[str]:
    return {t for t in term_fn(office or "") if t not in _COUNTRY_TERMS}


def how_many_focus(question: str) -> str | None:
    """The counted noun phrase of a how-many question ("leaders' summits" in "How many leaders' summits did …")."""
    m = _HOW_MANY_FOCUS.search(question)
    return m.group(1) if m else None


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
    r"September|October|November|December|Kicker|World|Load|More|Check|Also|Trilateral|Cooperation|Alliance|"
    r"Relations|Strengthen|Strengthens|Bolster|Seeks|Urge|Pledge|Threats?|Deterrence|Dialogue|Purpose|Process|"
    r"Fields|Military|Technology|Economy|Leaders’?|Said|Says|However|Meanwhile|Besides|Starting|Basically|Continually)\b"
)
_OFFICE = re.compile(
    r"\b(?:(?:the|a|an|his|her|its|their)\s+)?(?:[\w’'-]+\s+){0,3}?(?:ministry|office|government|officials?|ministers?|presidents?|"
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


_CITIES = {"Seoul", "Tokyo", "Washington", "Pyongyang", "Beijing", "Moscow", "Kuala Lumpur", "Busan", "Hiroshima",
           "New York", "Manila", "Jakarta", "Singapore", "Hanoi", "Osaka", "Incheon", "Taipei", "Phnom Penh",
           "Vientiane", "Bangkok", "London", "Paris", "Brussels", "Geneva", "Hawaii", "Honolulu", "central Seoul",
           "a Seoul hotel", "a hotel in central Seoul", "Yongsan"}
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
_ABBREV = re.compile(r"(?:[A-Z]\.)+|[A-Z][a-z]{0,3}\.")
_title_word = re.compile(rf"^(?:{_TITLE}|Prime|Vice|Deputy|First|General|State|Defense|of)$")


def _not_person(word: str) -> bool:
    return bool(_NOT_PERSON.fullmatch(word)) or any(_NOT_PERSON.fullmatch(p) for p in word.split("-") if p) \
        or word in {"U.S.", "US", "UN", "U.N.", "PM"} or word.endswith(".")


def _emit_name(text: str, name: list, titled: bool, out: list[TypedSpan]) -> None:
    if len(name) >= 2 or (name and titled):
        out.append(TypedSpan(name[0][0], name[-1][1], text[name[0][0] : name[-1][1]], WHO))


def people(text: str) -> list[TypedSpan]:
    """Person names inside runs of capitalised words: titles and non-name words before a name are
    skipped ("South Korea’s First Vice Foreign Minister Park Yoon-joo" → "Park Yoon-joo"). A name is
    two words or more, or one word right after a title ("President Yoon")."""
    out = []
    for run in _CAP_RUN.finditer(text):
        words = []
        for m in re.finditer(r"\S+", run.group()):
            w, end = m.group(), run.start() + m.end()
            if w.endswith(".") and not _ABBREV.fullmatch(w):  # "Sullivan." ends the sentence
                w, end = w[:-1], end - 1
            words.append((run.start() + m.start(), end, w))
        name: list = []
        titled = False
        for w in words:
            bare = re.sub(r"[’']s$", "", w[2])  # "Korea’s" is Korea, "Kishida’s" is Kishida
            if _title_word.match(bare) or _not_person(bare):
                _emit_name(text, name, titled, out)
                name, titled = [], bool(_title_word.match(bare))
            elif bare != w[2]:  # a possessive ends the name
                _emit_name(text, name + [(w[0], w[0] + len(bare), bare)], titled, out)
                name, titled = [], False
            else:
                name.append(w)
        _emit_name(text, name, titled, out)
    return out


def offices(text: str) -> list[TypedSpan]:
    return _spans(_OFFICE, text, "office")


_LOCATIVE = re.compile(r"\b(?:in|at|to|from|near|inside|outside|across|around)\s+(?:the\s+|a\s+|an\s+)?$", re.I)


def places(text: str) -> list[TypedSpan]:
    """Places where something happens: after "in", "at", "to" … ("held in Tokyo"), not a capital
    standing for its government ("Tokyo maintains …")."""
    return [s for s in _spans(_place, text, WHERE) if _LOCATIVE.search(text[max(0, s.start - 12) : s.start])]


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
        found = places(text)
        return [s for s in found if s.text in _CITIES] if sub == "city" else found
    if qtype == NAME:
        return names(text)
    return []


_norm = re.compile(r"[\W_]+")


def _key(s: str) -> str:
    return _norm.sub(" ", s.casefold()).strip()


_GENERIC_NAME_WORDS = re.compile(rf"^(?:{_TITLE}|South|North|Korean|Japanese|American|U\.S\.|US|National|Security|"
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
    from index.terms import terms

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


# ---- what a question pins down ------------------------------------------------------------
_ORDINALS = ("second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|\\d+(?:st|nd|rd|th)")
_SPECIFIC = re.compile(rf"(?<![\w-])(?:\d[\w.-]*|{_ORDINALS})(?![\w])|(?<=-)\d+\b", re.I)


def specifics(question: str) -> list[str]:
    """Numbers, years and ordinals the question names: an answer about another one is no answer
    ("the 2024 summit", "its sixth nuclear test", "the Hwasong-18")."""
    return [m.group().lower() for m in _SPECIFIC.finditer(question)]


_ENTITY_HEADS = (r"compan(?:y|ies)|firms?|organi[sz]ations?|ministr(?:y|ies)|agenc(?:y|ies)|publications?|newspapers?|"
                 r"outlets?|institutions?|universit(?:y|ies)|part(?:y|ies)|banks?|groups?")
_WHICH_ENTITY = re.compile(rf"{_WH}(?:{_ENTITY_HEADS})\b", re.I)


def asks_for_named_entity(question: str) -> bool:
    """"Which Japanese companies …", "which Seoul ministry …": the answer is a proper name."""
    return bool(_WHICH_ENTITY.search(question))


_FOCUS_OF = re.compile(r"\b(?:what|which)\s+(?:is|was|were|are)\s+the\s+((?:[\w’'-]+\s+){0,2}?[\w’'-]+)\s+of\b"
                       r"|\b(?:what|which)\s+(?:kinds?|types?|sorts?|forms?)\s+of\s+((?:[\w’'-]+\s+){0,2}?[\w’'-]+?)"
                       r"(?=\s+(?:did|do|does|is|was|were|are|will|would|has|have|had|took|take|in|on|at|for)\b|\?|$)", re.I)
_NAME_OF = re.compile(r"\bnames? of (?:the |a |an |its |their )?((?:[\w’'.-]+\s+){0,5}?[\w’'-]+)"
                      r"(?=\s+(?:that|which|who|whose|did|does|is|was|were|planned|launched|held|set)\b|\?|$)", re.I)


def focus_noun(question: str) -> str | None:
    """The noun a "what was the X of …" / "which types of X …" question asks about."""
    m = _FOCUS_OF.search(question)
    if not m:
        return None
    phrase = (m.group(1) or m.group(2) or "").strip()
    return phrase.split()[-1] if phrase else None


def name_focus(question: str) -> str | None:
    """What a "what is the name of X" question wants named."""
    m = _NAME_OF.search(question)
    if not m:
        return None
    # capitalised words name the context ("… North Korea launched"), not the thing to be named
    words = [w for w in m.group(1).split() if not w[:1].isupper()]
    return " ".join(words) or None


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

"""What a question asks for: its answer type ("when", "who" …), a narrower subtype, and what it
pins down (numbers and ordinals, the office, the counted or named noun). Read by the fallback
answerer (service/answerers/extractive/answerer.py) only. Rules over the question's words, general English:
pure functions, strings in, strings out.
"""
from __future__ import annotations

import re

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
_DAY_Q = re.compile(rf"{_WH}(day|date)\b|\bexact (day|date)\b", re.I)
_HOW_MANY_FOCUS = re.compile(r"\bhow (?:many|much)\s+((?:[\w.’'-]+\s+){0,3}?[\w’'-]+)\s+(?:did|do|does|are|were|is|was|have|has|had|will|would|can|could)\b", re.I)


def subtype(question: str, qtype: str) -> str | None:
    """A narrower type where the question asks for one: a day (not a year), a person (not an office)."""
    if qtype == WHEN and _DAY_Q.search(question):
        return "day"
    if qtype == WHO and re.match(r"\s*(who|whom|whose)\b", question, re.I) and _OFFICE_Q.search(question):
        return "person"  # "who read the president's statement": an office does not answer, a name does
    return None


_WHO_IS_OFFICE = re.compile(
    r"^\s*who\s+(?:is|was|are|were)\s+(?:the\s+|a\s+|an\s+)?((?:[\w’'.-]+\s+){0,6}?(?:minister|president|secretary|"
    r"adviser|advisor|spokes(?:man|person|woman)|ambassador|chief|head|leader|counterpart|official|envoy|"
    r"coordinator|diplomat|reporter))\b", re.I)


def office_focus(question: str) -> str | None:
    """The office a "who is/was X" question names ("Japan's defense minister"): the person who
    answers must be named next to it."""
    m = _WHO_IS_OFFICE.search(question)
    return m.group(1) if m else None


def office_terms(office: str | None, term_fn) -> set[str]:
    """The office's own words: capitalised ones say whose office it is ("Japan's", "South Korean"),
    which the sentence may put another way."""
    return set(term_fn(" ".join(w for w in (office or "").split() if not w[:1].isupper())))


def how_many_focus(question: str) -> str | None:
    """The counted noun phrase of a how-many question ("leaders' summits" in "How many leaders' summits did …")."""
    m = _HOW_MANY_FOCUS.search(question)
    return m.group(1) if m else None


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

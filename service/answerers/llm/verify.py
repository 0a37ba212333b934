"""Each claim of an LLM's reply checked against the sentences it cites. Pure functions.

A claim is supported only when (1) it cites at least one sentence, (2) every number it cites was
offered, (3) every number, date and proper name in it occurs in the cited sentences, and (4) it is
about what they say: a cited sentence is among the `top` offered sentences closest to the claim
(embedding cosine), or at least `floor` close; and (5) with the learned reader at hand, the cited
sentences answer the claim turned into a question: each of its facts (a number, a date, a name) in
turn replaced by "what" ("Austin will visit Seoul in what?") must be read back from them, so a
claim that takes its facts from the sentence but ties them together differently fails. Ranks, not a fixed cosine: a short claim and its long
source sentence score 0.44 while being the best pair of the lot. This guards against citing another
topic; it is not a proof of entailment (a claim can keep every name and still reverse a fact, which
is why the page shows the cited sentence beside it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<![\w])[A-Z][\w'’.-]*[\w]")
# capitalised because they start a sentence or are function words, not names
_NOT_NAMES = {"The", "A", "An", "In", "On", "At", "It", "Its", "They", "He", "She", "This", "That", "These", "Those",
              "There", "And", "But", "Or", "As", "By", "For", "From", "With", "After", "Before", "When", "While",
              "According", "However", "I", "We", "His", "Her", "Their", "To", "Of", "If", "Yes", "No"}


@dataclass
class Claim:
    text: str  # without its markers
    cites: list[int] = field(default_factory=list)  # the numbers it cites, as written
    supported: bool = False
    reason: str | None = None


def split_claims(reply: str, sentences_of) -> list[Claim]:
    """The reply's sentences (`sentences_of(text) -> list[str]`), each with the markers in it."""
    claims = []
    for sent in sentences_of(reply):
        cites = [int(n) for m in _MARKER.finditer(sent) for n in re.split(r"[,;]", m.group(1))]
        text = _MARKER.sub("", sent).strip()
        if text:
            claims.append(Claim(text=text, cites=list(dict.fromkeys(cites))))
        elif cites and claims:  # a marker on its own after the sentence: it belongs to the previous claim
            claims[-1].cites += [c for c in cites if c not in claims[-1].cites]
    return claims


def _norm_number(s: str) -> str:
    return s.replace(",", "")


def facts(text: str) -> tuple[set[str], set[str]]:
    """(numbers, proper names) of a text, as they must reappear in its evidence."""
    numbers = {_norm_number(m.group(0)) for m in _NUMBER.finditer(text)}
    names = set()
    for m in _NAME.finditer(text):
        word = m.group(0).rstrip(".")
        if word in _NOT_NAMES:
            continue
        names.add(word)
    return numbers, names


_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday")
_DATE = re.compile(rf"\b(?:(?:{_MONTHS})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+(?:{_MONTHS})(?:\s+\d{{4}})?)\b")
_NAME_RUN = re.compile(r"(?<![\w])[A-Z][\w'’.-]*[\w](?:\s+[A-Z][\w'’.-]*[\w])*")


def cloze_questions(text: str, limit: int = 2) -> list[tuple[str, str]]:
    """(question, fact): the claim with one fact replaced by a wh-word (when / how many / what): dates first ("December 2023"
    whole), then numbers, then names (runs of capitalised words); not the claim's opening subject."""
    found: list[tuple[int, int]] = []

    def take(m) -> None:
        if m.start() > 0 and not any(a < m.end() and m.start() < b for a, b in found) \
                and m.group(0).split()[0] not in _NOT_NAMES:
            found.append((m.start(), m.end()))

    kinds: dict[tuple[int, int], str] = {}
    for kind, pattern in (("date", _DATE), ("number", _NUMBER), ("name", _NAME_RUN)):
        for m in pattern.finditer(text):
            before = len(found)
            take(m)
            if len(found) > before:
                kinds[found[-1]] = kind
    out = []
    for a, b in found[:limit]:
        head, tail = text[:a], text[b:].rstrip(" .!")
        if kinds[(a, b)] == "date":  # "visit Seoul in March" -> "visit Seoul when?" (the reader reads wh-words)
            head = re.sub(r"\b(?:in|on|at)\s+$", "", head)
            word = "when"
        else:
            word = "how many" if kinds[(a, b)] == "number" else "what"
        out.append((head + word + tail + "?", text[a:b]))
    return out


def read_back(claim_text: str, evidence: str, read) -> str | None:
    """Why the cited sentences do not answer the claim's cloze questions (None: they do).
    `read(question, passage) -> the reader's answer text, or None when it finds none`."""
    for question, fact in cloze_questions(claim_text):
        got = read(question, evidence)
        if not got or fact.lower() not in got.lower():
            return f"the cited sentence answers “{question}” with “{got or 'nothing'}”, not “{fact}”"
    return None


# Negation in general English (a closed class, not the articles' words): particles and determiners,
# and the verbs whose meaning is "not do" ("refused to share" = "did not share"). A claim and its
# cited sentence with a different parity of these say opposite things ("refused to share" against
# "agreeing to start sharing"; "did not refuse" against "agreed" is the same parity and passes).
_NEG_WORDS = frozenset("not no never none neither nor without cannot n't nobody nothing nowhere".split())
_NEG_VERBS = ("refuse", "decline", "deny", "reject", "fail", "halt", "cease", "abandon", "cancel", "suspend",
              "withdraw", "stop", "oppose", "veto", "boycott", "scrap")


def _inflections(verb: str) -> set[str]:
    stem = verb[:-1] if verb.endswith("e") else verb
    past = verb + "d" if verb.endswith("e") else (verb[:-1] + "ied" if verb.endswith("y") else verb + "ed")
    third = verb[:-1] + "ies" if verb.endswith("y") else verb + ("es" if verb.endswith(("s", "sh", "ch", "x")) else "s")
    forms = {verb, past, third, stem + "ing"}
    if verb in ("withdraw",):
        forms |= {"withdrew", "withdrawn"}
    if verb == "stop" or verb == "scrap" or verb == "veto":
        forms |= {verb + verb[-1] + "ed", verb + verb[-1] + "ing", verb + "es", verb + "ed"}
    return forms


_NEG_FORMS = frozenset(f for v in _NEG_VERBS for f in _inflections(v))
_WORDS = re.compile(r"[a-z]+(?:n't)?|n't")


def negations(text: str) -> list[str]:
    """The negation cues of a sentence, in order ("not", "refused", "n't", ...)."""
    out = []
    for w in _WORDS.findall(text.lower().replace("’", "'")):
        if w.endswith("n't"):
            out.append("n't")
        elif w in _NEG_WORDS or w in _NEG_FORMS:
            out.append(w)
    return out


def reversal(claim_text: str, evidence: str) -> str | None:
    """Why the claim says the opposite of its cited sentence (a different parity of negation), or None."""
    mine, theirs = negations(claim_text), negations(evidence)
    if len(mine) % 2 == len(theirs) % 2:
        return None
    if len(mine) > len(theirs):
        extra = next((w for w in mine if w not in theirs), mine[0])
        return f"the claim negates its cited sentence (“{extra}” has no counterpart there)"
    extra = next((w for w in theirs if w not in mine), theirs[0])
    return f"the cited sentence says the opposite (“{extra}”, which the claim drops)"


def check(claim: Claim, offered: dict[int, str], similarity, floor: float, top: int = 3, read=None) -> Claim:
    """`offered`: {n: sentence text}; `similarity(claim text) -> {n: cosine}` over the offered
    sentences; `read`: the reader (see read_back), optional. Fills supported and reason."""
    if not claim.cites:
        return _verdict(claim, False, "cites no sentence")
    unknown = [n for n in claim.cites if n not in offered]
    if unknown:
        return _verdict(claim, False, f"cites [{unknown[0]}], which was not offered")
    evidence = " ".join(offered[n] for n in claim.cites)
    ev_numbers = {_norm_number(m.group(0)) for m in _NUMBER.finditer(evidence)}
    numbers, names = facts(claim.text)
    missing_numbers = sorted(n for n in numbers if n not in ev_numbers)
    if missing_numbers:
        return _verdict(claim, False, f"“{missing_numbers[0]}” is not in the cited sentence")
    low = evidence.lower()
    missing_names = sorted(n for n in names if n.lower() not in low)
    if missing_names:
        return _verdict(claim, False, f"“{missing_names[0]}” is not in the cited sentence")
    if why := reversal(claim.text, evidence):
        return _verdict(claim, False, why)
    sims = similarity(claim.text)
    best = max(claim.cites, key=lambda n: sims.get(n, -1.0))
    rank = sum(v > sims.get(best, -1.0) for v in sims.values()) + 1
    if rank > top and sims.get(best, -1.0) < floor:
        return _verdict(claim, False, f"the cited sentence is about something else ({rank - 1} offered sentences "
                                      f"match the claim better; similarity {sims.get(best, -1.0):.2f})")
    if read is not None and (why := read_back(claim.text, evidence, read)):
        return _verdict(claim, False, why)
    return _verdict(claim, True, None)


def _verdict(claim: Claim, ok: bool, reason: str | None) -> Claim:
    claim.supported, claim.reason = ok, reason
    return claim

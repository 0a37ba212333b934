"""Content terms of a text: lower-cased word tokens, stop words removed, Snowball-stemmed.

Used at ingest (per-sentence terms and corpus document frequencies, stored in the index) and at
question time (lexical overlap), so both sides normalize words the same way.
"""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

# Words too common to rank or match by.
STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being between both but by can
    could did do does during each for from had has have he her his how i if in into is it its
    me more most my no not of on or our out over own same she should so some such than that the
    their them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your""".split()
)

_token = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased content words; hyphenated words also yield their parts ("real-time" → real, time)."""
    out: list[str] = []
    for tok in _token.findall(text.casefold()):
        tok = tok.replace("’", "'")
        if tok.endswith("'s"):
            tok = tok[:-2]
        parts = [tok] + (tok.split("-") if "-" in tok else [])
        for p in parts:
            if p and p not in STOPWORDS and (len(p) > 1 or p.isdigit()):
                out.append(p)
    return out


def terms(text: str) -> list[str]:
    return _stemmer().stemWords(words(text))

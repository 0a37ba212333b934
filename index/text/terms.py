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
# "U.S." and "US" would otherwise vanish (one-letter tokens) or read as the pronoun "us"
_usa = re.compile(r"\bU\.S\.(?:A\.)?|\bUS\b|\bUSA\b")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def is_content_word(tok: str) -> bool:
    """Not a stop word, and not a lone letter (a lone digit counts)."""
    return tok not in STOPWORDS and (len(tok) > 1 or tok.isdigit())


def words(text: str) -> list[str]:
    """Lower-cased content words; a hyphenated word counts as its parts ("real-time" → real, time)."""
    out: list[str] = []
    for tok in _token.findall(_usa.sub("USA", text).casefold()):
        if "’" in tok:
            tok = tok.replace("’", "'")
        if tok.endswith("'s"):
            tok = tok[:-2]
        if "-" in tok:
            out.extend(p for p in tok.split("-") if p and is_content_word(p))
        elif is_content_word(tok):
            out.append(tok)
    return out


def terms(text: str) -> list[str]:
    return list(_terms(text))


@lru_cache(maxsize=65536)
def _terms(text: str) -> tuple[str, ...]:
    # The answerer asks for the terms of the same sentences and windows again and again.
    return tuple(_stemmer().stemWords(words(text)))


_term = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression OR-ing the question's content words, each quoted (no syntax leaks)."""
    terms = []
    for t in _term.findall(text.casefold()):
        if t not in terms and is_content_word(t):
            terms.append(t)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms[:64])

"""What a document id may be, and the id an uploaded file's name gives.

Ids keep Unicode letters, marks and digits (a Korean file name "뉴스 1.txt" is "뉴스-1"; keeping only
ASCII made it "1", and "기사 1.txt" then silently replaced it), in NFC so that a macOS (NFD) file
name gives the same id. Nothing else survives: no slash, no dot-dot start, no control or
invisible characters, so an id is safe in a URL path and in a log line. A name longer than 200
characters keeps its first 183 and a hash of the whole (names sharing their first 200 letters
once got one id, and the second upload silently replaced the first); shorter names' ids are as before.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_ID_CHARS = 200
_PUNCT = frozenset("_.-")


def _kept(ch: str) -> bool:
    return ch in _PUNCT or unicodedata.category(ch)[0] in "LMN"


def is_valid_id(doc_id: str) -> bool:
    """1..200 characters, NFC, starting with a letter or digit, then letters, marks, digits, _ . -"""
    return (0 < len(doc_id) <= MAX_ID_CHARS and unicodedata.normalize("NFC", doc_id) == doc_id
            and unicodedata.category(doc_id[0])[0] in "LN" and all(_kept(ch) for ch in doc_id))


def id_from_filename(stem: str) -> str | None:
    """The file name's letters and digits, every other run of characters one "-"; None if none are left."""
    stem = unicodedata.normalize("NFC", stem)
    cleaned = re.sub(r"-{2,}", "-", "".join(ch if _kept(ch) else "-" for ch in stem))
    cleaned = cleaned.lstrip("-._").rstrip("-.")
    while cleaned and unicodedata.category(cleaned[0])[0] not in "LN":  # a leading combining mark
        cleaned = cleaned[1:].lstrip("-._")
    if len(cleaned) > MAX_ID_CHARS:  # distinct long names keep distinct ids: a cut, then a hash of the whole
        digest = hashlib.blake2b(cleaned.encode("utf-8"), digest_size=8).hexdigest()
        cleaned = cleaned[:MAX_ID_CHARS - len(digest) - 1].rstrip("-.") + "-" + digest
    return cleaned if cleaned and is_valid_id(cleaned) else None

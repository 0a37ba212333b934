"""Turn a raw article (plain text, Markdown or HTML) into a title, a date and clean body text.

HTML goes through trafilatura's main-text extractor. Plain-text captures of web pages (the seed
files) carry page furniture that no extractor sees as markup: menus, like/view counters, "Load
More" links, comment widgets, photo captions printed twice. Those are removed line by line with
the patterns below, chosen from what the seeds really contain; body lines are never rewritten
beyond whitespace, so every body sentence survives verbatim.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

# A line matching one of these is page furniture and is dropped.
_DROP_LINE = [
    r"!\[[^\]]*\]\([^)]*\)\s*\|?",  # markdown image with an empty caption cell
    r"(메뉴\s*)+",  # "menu menu"
    r"[•·*\-]?\s*(좋아요|조회수)\b.*",  # like / view counters
    r"[•·*\-]?\s*(like|likes|views?|shares?)\s*[:\s]\s*[\d,.]+[kKmM]?",
    r"kicker:.*",
    r"\d+\s+min(ute)?s?\s+read",
    r"home\s*>.*",  # breadcrumbs
    r"print(\s+dictionary)?\s+print",
    r"load more\b.*",
    r"(share|tweet|email|print)(\s+(on|this|article))*\s*",
    r"advertisement",
    r"help-image.*",
    r"lock icon",
    r"[a-z]",  # stray single letters left by widgets
    r"(read|see) (more|also):?",
    r"standards board policy.*",
    r"to write comments, please log in.*",
]
# A line matching one of these starts the page's trailer (comments, related articles): it and
# everything after it is dropped.
_TRAILER = [
    r"log in to (twitter|facebook).*",
    r"notify of",
    r"inline feedbacks",
    r"view all comments",
    r"check also",
    r"related (articles|stories|posts)",
    r"\d+\s+comments?",
    r"leave a (comment|reply)",
]
_BYLINE = re.compile(r"(?:by|written by)\s+([A-Z][\w .'\-]{1,60}?)(?:,\s*[\w ]{1,30})?(?:\s*\[.*\])?", re.I)
_ISSUE_PREFIX = re.compile(r"^제\s*\d+\s*호\s+")  # "issue no. 21" before a headline
_DATE_LINE = [
    re.compile(r"[•·*\-]?\s*(?:작성일|등록일|입력|published|posted|updated|date)\s*:?\s*(\d{4})[-./](\d{1,2})[-./](\d{1,2})\b.*", re.I),
]
_DATE_INLINE = re.compile(r"(?:작성일|published|posted|date)\s*:?\s*(\d{4})[-./](\d{1,2})[-./](\d{1,2})", re.I)

_drop = re.compile("|".join(f"(?:{p})" for p in _DROP_LINE), re.I)
_trailer = re.compile("|".join(f"(?:{p})" for p in _TRAILER), re.I)
_spaces = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


@dataclass
class Cleaned:
    title: str
    text: str
    date: str | None
    author: str | None


def normalize_line(line: str) -> str:
    """Unicode NFC, every kind of space folded to one ASCII space, ends stripped."""
    return _spaces.sub(" ", unicodedata.normalize("NFC", line)).strip()


def _key(line: str) -> str:
    return re.sub(r"\W+", " ", line.casefold()).strip()


def _is_caption(raw: str) -> bool:
    return raw.rstrip().endswith("|")


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return 2 <= len(words) <= 30 and not line.endswith((".", ":", "?", "!", ",")) and not _BYLINE.fullmatch(line)


def clean_text(raw: str) -> Cleaned:
    """Clean a plain-text or Markdown capture of an article."""
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    date: str | None = None
    author: str | None = None
    title: str | None = None
    kept: list[str] = []
    seen: set[str] = set()

    for raw_line in lines:
        line = normalize_line(raw_line)
        if line.startswith("#"):  # markdown heading
            line = line.lstrip("#").strip()
        if not line:
            continue
        if _trailer.fullmatch(line):
            break
        for pattern in _DATE_LINE:
            m = pattern.fullmatch(line)
            if m:
                date = date or _iso(*m.groups())
                break
        else:
            m = None
        if m:
            continue
        if _drop.fullmatch(line):
            continue
        byline = _BYLINE.fullmatch(line)
        if byline and len(line) <= 80:
            author = author or byline.group(1).strip()
            continue
        caption = _is_caption(raw_line)
        if caption:
            line = line.rstrip("|").strip()
            if not line:
                continue
        if title is None and not caption and _looks_like_headline(line):
            line = _ISSUE_PREFIX.sub("", line)
            title = line
            seen.add(_key(line))
            continue
        key = _key(line)
        if key in seen:  # photo captions and headlines repeated by the page
            continue
        if title is not None and _looks_like_headline(line) and key and key in _key(title):
            continue  # a headline broken over several lines, or lower-cased as a deck
        seen.add(key)
        kept.append(line)

    if date is None:  # the first real date stated inline
        date = next(filter(None, (_iso(*m.groups()) for m in _DATE_INLINE.finditer(raw))), None)
    if title is None:  # no headline-like line: the first line stands in, and stays in the body
        title = kept[0][:120] if kept else ""
    else:  # the headline opens the text, wherever the page printed it, so it can be cited
        kept.insert(0, title)
    return Cleaned(title=title, text="\n\n".join(kept), date=date, author=author)


def clean_html(html: str) -> Cleaned:
    """Main text of an HTML page through trafilatura, then the same line cleaning."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )
    if doc is None:
        return Cleaned(title="", text="", date=None, author=None)
    body = doc.text or ""
    title = normalize_line(doc.title or "")
    cleaned = clean_text((title + "\n" if title else "") + body)
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", doc.date or "")
    date = _iso(*m.groups()) if m and not _from_impossible(m.group(0), html) else None
    return Cleaned(
        title=cleaned.title or title,
        text=cleaned.text,
        date=date or cleaned.date,
        author=normalize_line(doc.author) if doc.author else cleaned.author,
    )


_YMD = re.compile(r"(?<!\d)(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?!\d)")


def _from_impossible(date: str, html: str) -> bool:
    """True when trafilatura's date is its repair of an impossible one the page states (it reads
    2024-02-31 as 2024-02-01): the page has an impossible day in that month and never this date."""
    stated = [(y, mo, d, _iso(y, mo, d)) for y, mo, d in _YMD.findall(html)]
    if any(iso == date for *_, iso in stated):
        return False
    return any(iso is None and f"{int(y):04d}-{int(mo):02d}" == date[:7] for y, mo, d, iso in stated)


def _iso(y: str, m: str, d: str) -> str | None:
    """YYYY-MM-DD of a real calendar day, else None (2024-02-31 and 2023-02-29 are not dates)."""
    try:
        return dt.date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None

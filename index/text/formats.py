"""Text out of PDF and DOCX files, before the cleaning every article goes through.

- PDF: text per page from pdfminer.six's layout analysis (chosen over pypdf on generated news pages
  with two columns, running headers and hyphenation: eval/bench/pdf_quality.py, figures in the README);
  lines reflowed into paragraphs, words hyphenated at a line end joined, and running headers and
  footers (the same first or last line on most pages, page numbers folded) removed. Each page
  after the first opens with PAGE_MARK, so that after cleaning the page starts are known as
  offsets into the document's text (`split_pages`): a citation's page is where its span starts.
- DOCX: paragraphs in order through python-docx, headings kept as their own lines; headers and
  footers live outside the body there and are never read.
"""
from __future__ import annotations

import bisect
import io
import re
from collections import Counter

PAGE_MARK = "\ue000"  # private use: never in a real text, kept by the cleaner, removed after it
_HYPHEN_END = re.compile(r"(\w)-$")
_DIGITS = re.compile(r"\d+")


class NoText(ValueError):
    """The file has no extractable text (a scanned PDF without a text layer)."""


# ---- PDF ------------------------------------------------------------------------------------
# A page is a list of (text, zone) boxes in reading order; zone is "top", "bottom" or "body".
# Running headers and footers are looked for in the top and bottom zones only.
_TOP, _BOTTOM = 0.90, 0.08  # fractions of the page height


def pdf_pages_pdfminer(data: bytes) -> list[list[tuple[str, str]]]:
    """pdfminer's text boxes (its paragraphs, in its reading order), zoned by their position."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    pages = []
    for layout in extract_pages(io.BytesIO(data), laparams=LAParams()):
        h = layout.height or 1.0
        boxes = []
        for el in layout:
            if isinstance(el, LTTextContainer) and el.get_text().strip():
                zone = "top" if el.y0 >= _TOP * h else "bottom" if el.y1 <= _BOTTOM * h else "body"
                boxes.append((el.get_text(), zone))
        pages.append(boxes)
    return pages


def pdf_pages_pypdf(data: bytes) -> list[list[tuple[str, str]]]:
    """The same shape from pypdf, which gives lines without positions: the first line is the top
    zone, the last the bottom, and blank lines (rare in its output) separate paragraphs."""
    from pypdf import PdfReader

    pages = []
    for page in PdfReader(io.BytesIO(data)).pages:
        lines = [ln for ln in (page.extract_text() or "").splitlines() if ln.strip()]
        boxes = [(ln, "top" if i == 0 else "bottom" if i == len(lines) - 1 else "body") for i, ln in enumerate(lines)]
        pages.append(boxes)
    return pages


def _reflow(box: str) -> str:
    """One paragraph from the lines of a box: "secur-" + "ity" -> "security"."""
    out = ""
    for line in (ln.strip() for ln in box.splitlines()):
        if not line:
            continue
        if out and _HYPHEN_END.search(out) and line[:1].islower():
            out = out[:-1] + line  # a word split at the line end
        elif out.endswith("-"):
            out += line  # a compound broken after its hyphen: "U.S.-" + "Japan"
        else:
            out = f"{out} {line}" if out else line
    return out


def _furniture_key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.casefold().split()))


def strip_running(pages: list[list[tuple[str, str]]]) -> list[list[str]]:
    """The boxes' texts, without those repeated in the top or bottom zone of most pages (2 of 2,
    else over half; page numbers folded, so "Page 2 of 5" repeats)."""
    seen = Counter()
    for boxes in pages:
        for key in {_furniture_key(t) for t, zone in boxes if zone != "body"}:
            seen[key] += 1
    need = max(2, len(pages) // 2 + 1)
    running = {k for k, n in seen.items() if n >= need}
    return [[t for t, zone in boxes if zone == "body" or _furniture_key(t) not in running] for boxes in pages]


def pdf_text(data: bytes, pages_of=pdf_pages_pdfminer) -> str:
    """The article text of a PDF, paragraphs on their own lines, PAGE_MARK opening pages 2..n."""
    try:
        pages = pages_of(data)
    except Exception as exc:  # pdfminer raises its own types for damaged files
        raise ValueError(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    pages = [[_reflow(b) for b in boxes] for boxes in strip_running(pages)]
    if not any(p.strip() for boxes in pages for p in boxes):
        raise NoText("no text layer (a scanned PDF?): nothing to index; run OCR on it first")
    parts = []
    for n, boxes in enumerate(pages):
        paras = [p for p in boxes if p.strip()]
        if n and paras:
            paras[0] = PAGE_MARK + paras[0]
        elif n:
            paras = [PAGE_MARK]  # an empty page still starts here
        parts.append("\n".join(paras))
    return "\n".join(parts)


# ---- DOCX -----------------------------------------------------------------------------------
def docx_text(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # a zip that is not a Word file, a damaged one
        raise ValueError(f"not a readable DOCX file ({type(exc).__name__})") from exc
    paras = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    if not paras:
        raise NoText("the document has no text")
    return "\n".join(paras)


# ---- after cleaning -------------------------------------------------------------------------
def split_pages(text: str) -> tuple[str, list[int] | None]:
    """Remove the page marks from the cleaned text: (text, start offset of each page) or (text, None)
    when there were none (a one-page PDF or an unpaged format)."""
    if PAGE_MARK not in text:
        return text, None
    pieces = text.split(PAGE_MARK)
    starts, out, pos = [0], [pieces[0]], len(pieces[0])
    for piece in pieces[1:]:
        starts.append(pos)
        out.append(piece)
        pos += len(piece)
    return "".join(out), starts


def page_of(starts: list[int] | None, offset: int) -> int | None:
    """1-based page of a character offset, None for unpaged documents."""
    if not starts:
        return None
    return bisect.bisect_right(starts, offset)

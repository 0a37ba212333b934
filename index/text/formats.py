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
# A .docx is a zip: its directory says how large each part inflates, and Python's zipfile never
# inflates a part past the size its directory gives (a part that lies fails its CRC instead), so
# checking the directory before python-docx reads anything bounds the inflation. A real article's
# document.xml is a few MB at most, compressed 5-15x.
MAX_PART_BYTES = 32_000_000  # any one part, inflated
MAX_TOTAL_BYTES = 64_000_000  # all parts together
MAX_RATIO = 100  # inflated / compressed, for parts over RATIO_FROM bytes
RATIO_FROM = 1_000_000
MAX_PARTS = 5_000


class ZipLimit(ValueError):
    """A zip whose directory says it inflates past the limits (a zip bomb, or no article)."""


def check_zip(data: bytes) -> None:
    """Raise ZipLimit (or ValueError for a damaged zip) from the zip directory alone, nothing inflated."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"not a readable DOCX file ({type(exc).__name__})") from exc
    if len(infos) > MAX_PARTS:
        raise ZipLimit(f"the DOCX file has {len(infos)} parts (the limit is {MAX_PARTS})")
    total = 0
    for info in infos:
        size = info.file_size
        if size > MAX_PART_BYTES:
            raise ZipLimit(f"the DOCX part {info.filename[:80]!r} inflates to {size / 1e6:.1f} MB "
                           f"(the limit is {MAX_PART_BYTES / 1e6:g} MB a part)")
        if size > RATIO_FROM and size > MAX_RATIO * max(info.compress_size, 1):
            raise ZipLimit(f"the DOCX part {info.filename[:80]!r} inflates {size / max(info.compress_size, 1):.0f}x "
                           f"(to {size / 1e6:.1f} MB; the limit is {MAX_RATIO}x): a zip bomb?")
        total += size
    if total > MAX_TOTAL_BYTES:
        raise ZipLimit(f"the DOCX file inflates to {total / 1e6:.1f} MB (the limit is {MAX_TOTAL_BYTES / 1e6:g} MB)")


def docx_text(data: bytes) -> str:
    import docx

    check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # a zip that is not a Word file, a damaged one
        raise ValueError(f"not a readable DOCX file ({type(exc).__name__})") from exc
    if getattr(document.element, "body", None) is None:  # word/document.xml without a <w:body> (python-docx raises AttributeError)
        raise NoText("the document has no body (word/document.xml holds no w:body): no text")
    try:
        paras = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    except Exception as exc:  # noqa: BLE001 - a body python-docx cannot walk
        raise ValueError(f"not a readable DOCX file ({type(exc).__name__} in its body)") from exc
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

"""Find article files and read them into clean documents; bad files are reported, not fatal."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from index.text import formats
from index.text.cleaning import clean_html, clean_text
from index.types import CleanDocument

SUPPORTED = {".txt": "text", ".md": "text", ".markdown": "text", ".html": "html", ".htm": "html",
             ".pdf": "pdf", ".docx": "docx"}
BINARY = {"pdf", "docx"}  # read by their own extractors (index/text/formats.py), not decoded as text
MAX_FILE_BYTES = 20_000_000


class BadInput(ValueError):
    """A file that cannot become a document; str(exc) is the reason shown to the user."""


@dataclass
class Skipped:
    path: str
    reason: str


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Files to ingest under `paths` (sorted), and the ones passed over with the reason."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for root in paths:
        if not root.exists():
            skipped.append(Skipped(str(root), "no such file or directory"))
        elif root.is_dir():
            if not os.access(root, os.R_OK | os.X_OK):
                skipped.append(Skipped(str(root), "permission denied"))
                continue
            for p in sorted(root.rglob("*")):
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts):
                    (files if p.suffix.lower() in SUPPORTED else skipped).append(
                        p if p.suffix.lower() in SUPPORTED else Skipped(str(p), _unsupported(p))
                    )
        elif root.suffix.lower() in SUPPORTED:
            files.append(root)
        else:
            skipped.append(Skipped(str(root), _unsupported(root)))
    return files, skipped


def _unsupported(p: Path) -> str:
    return f"unsupported file type {p.suffix or '(none)'!r} (expected one of {', '.join(sorted(SUPPORTED))})"


def read_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BadInput(f"file is too large ({size / 1e6:.2f} MB > the limit of {max_bytes / 1e6:.2f} MB; "
                           "set CITEQA_MAX_FILE_MB to ingest larger files)")
        return path.read_bytes()
    except PermissionError as exc:
        raise BadInput("permission denied") from exc
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}") from exc


def decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc
    if "\x00" in text:
        raise BadInput("contains NUL bytes (a binary file?)")
    return text


def extract(data: bytes, kind: str) -> str:
    """The text of a file's bytes: decoded (text, HTML) or extracted (PDF, DOCX; page marks kept)."""
    if kind not in BINARY:
        return decode(data)
    from index.text import sandbox

    try:  # in a child process with a time and a memory limit: the file is untrusted (index/sandbox.py)
        return sandbox.parse(data, kind)
    except BadInput:  # a limit it hit (sandbox.ParseLimit: its own HTTP status)
        raise
    except ValueError as exc:  # NoText, or a file that is not what its name says
        raise BadInput(str(exc)) from exc


def make_document(doc_id: str, text: str, kind: str = "text", source: str = "", sha256: str | None = None,
                  title: str | None = None, date: str | None = None) -> CleanDocument:
    """Clean one article; raises BadInput when nothing of it is left. For PDF and DOCX `text` is
    what `extract` made of the file."""
    if not text.strip():
        raise BadInput("empty file")
    if kind not in BINARY:  # a page mark only ever comes from the PDF extractor
        text = text.replace(formats.PAGE_MARK, "")
    cleaned = clean_html(text) if kind == "html" else clean_text(text)
    body, page_starts = formats.split_pages(cleaned.text)
    if not body.strip():
        raise BadInput("no article text left after cleaning")
    return CleanDocument(
        doc_id=doc_id,
        title=title or cleaned.title.replace(formats.PAGE_MARK, ""),
        text=body,
        page_starts=page_starts,
        date=date or cleaned.date,
        author=cleaned.author,
        source=source,
        sha256=sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> CleanDocument:
    data = read_bytes(path, max_bytes)
    kind = SUPPORTED.get(path.suffix.lower(), "text")
    return make_document(
        doc_id=path.stem,
        text=extract(data, kind),
        kind=kind,
        source=str(path.resolve()),
        sha256=hashlib.sha256(data).hexdigest(),
    )

"""What can still be read from a store set aside as corrupt: the documents, with their text.

`citeqa ingest --rebuild` re-reads the files it is given; documents added through the API (or
from folders not named this time) live only in the store, so they are carried over from it.
Rows are read one at a time, so a damaged page loses the rows behind it, not all of them.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from index.types import CleanDocument


def salvage_documents(db: Path) -> tuple[list[CleanDocument], str | None]:
    """The documents readable from `db`, and the error that stopped the reading (None: all read)."""
    docs: list[CleanDocument] = []
    try:
        conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return docs, str(exc)
    pages: dict[str, list[int]] = {}
    try:  # best effort: a lost page table costs the page numbers, not the documents
        pages = {d: json.loads(s) for d, s in conn.execute("SELECT doc_id, starts FROM doc_pages")}
    except (sqlite3.Error, ValueError):
        pass
    try:
        cur = conn.execute("SELECT doc_id, title, date, author, source, sha256, text FROM documents ORDER BY rowid")
        while (row := cur.fetchone()) is not None:
            doc_id, title, date, author, source, sha256, text = row
            if isinstance(text, str) and text.strip():
                docs.append(CleanDocument(doc_id=doc_id, title=title or "", text=text, date=date, author=author,
                                          source=source or "", sha256=sha256 or "", page_starts=pages.get(doc_id)))
    except sqlite3.Error as exc:
        return docs, str(exc)
    finally:
        conn.close()
    return docs, None


def set_aside(db: Path) -> tuple[list[CleanDocument], str | None, Path]:
    """Read what can be read from a corrupt store, then move it aside (never deleted) so a new one
    can be built in its place: (documents, the error that stopped the reading, where it went)."""
    db = Path(db)
    carried, error = salvage_documents(db)
    aside = db.with_name(f"{db.name}.corrupt-{int(time.time())}")
    db.rename(aside)
    for extra in ("-wal", "-shm"):
        Path(str(db) + extra).unlink(missing_ok=True)
    return carried, error, aside

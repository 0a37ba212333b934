"""What can still be read from a store set aside as corrupt: the documents, with their text.

`citeqa ingest --rebuild` re-reads the files it is given; documents added through the API (or
from folders not named this time) live only in the store, so they are carried over from it.
Rows are read one at a time, so a damaged page loses the rows behind it, not all of them.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from index.documents import CleanDocument


def salvage_documents(db: Path) -> tuple[list[CleanDocument], str | None]:
    """The documents readable from `db`, and the error that stopped the reading (None: all read)."""
    docs: list[CleanDocument] = []
    try:
        conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return docs, str(exc)
    try:
        cur = conn.execute("SELECT doc_id, title, date, author, source, sha256, text FROM documents ORDER BY rowid")
        while (row := cur.fetchone()) is not None:
            doc_id, title, date, author, source, sha256, text = row
            if isinstance(text, str) and text.strip():
                docs.append(CleanDocument(doc_id=doc_id, title=title or "", text=text, date=date, author=author,
                                          source=source or "", sha256=sha256 or ""))
    except sqlite3.Error as exc:
        return docs, str(exc)
    finally:
        conn.close()
    return docs, None

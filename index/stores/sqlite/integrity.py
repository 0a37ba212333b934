"""Checks that what is served is what was stored: the SQLite file's structure, the chunk vectors it
holds, and the FAISS file that caches them.

- The store keeps a digest of its chunk vectors (`vectors_digest` in `meta`): the XOR of a BLAKE2b
  hash of each (row id, vector) pair. XOR lets a write update it from the rows it adds and removes
  instead of re-reading every vector; ids are unique, so no two hashes cancel.
- A FAISS file is written with a sidecar (`dense-<generation>.json`): the SHA-256 of the file and the
  store digest its vectors came from. A file whose bytes changed (flipped vectors or ids) or that was
  built from other data under the right generation tag (a stale copy, a rebuilt store) is rebuilt.
- `PRAGMA quick_check` when the store opens (bounded by the file's size: it reads every page), and
  `citeqa check` (service/check.py) runs the full set on demand.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

DIGEST_KEY = "vectors_digest"


def row_hash(row_id: int, vector: bytes) -> int:
    h = hashlib.blake2b(int(row_id).to_bytes(8, "little", signed=True), digest_size=16)
    h.update(vector)
    return int.from_bytes(h.digest(), "little")


def fold(rows) -> int:
    """XOR of the hashes of (row id, vector bytes) pairs."""
    out = 0
    for row_id, vector in rows:
        out ^= row_hash(row_id, vector)
    return out


def compute_digest(conn: sqlite3.Connection) -> int:
    """The digest of every chunk vector in the store, read in row-id order, in slices."""
    out, last = 0, -1
    while True:
        rows = conn.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT 20000", (last,)).fetchall()
        if not rows:
            return out
        out ^= fold(rows)
        last = rows[-1][0]


def as_text(digest: int) -> str:
    return f"{digest:032x}"


def quick_check(conn: sqlite3.Connection, full: bool = False) -> str | None:
    """None when SQLite finds the file sound, else its first complaint. `quick_check` skips the
    index-vs-table cross-checks of `integrity_check` and is several times faster."""
    pragma = "integrity_check(5)" if full else "quick_check(5)"
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}").fetchall()]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if rows == ["ok"] else "; ".join(rows)


def fts_check(conn: sqlite3.Connection) -> str | None:
    """FTS5's own check of its index against its content (needs a writable connection)."""
    try:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')")
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def sidecar_path(faiss_path: Path) -> Path:
    return Path(faiss_path).with_suffix(".json")


def sidecar(faiss_path: Path, store_digest: str, generation: int) -> dict:
    return {"generation": generation, "store_digest": store_digest, "sha256": file_sha256(faiss_path)}


def cache_problem(faiss_path: Path, store_digest: str, generation: int) -> str | None:
    """Why the FAISS file may not serve this store (None: it may)."""
    side = sidecar_path(faiss_path)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{side.name} is missing or unreadable"
    if not isinstance(meta, dict) or meta.get("generation") != generation:
        return f"{side.name} is for another generation"
    if meta.get("store_digest") != store_digest:
        return "it was built from other vectors than the store holds (a stale copy)"
    if meta.get("sha256") != file_sha256(faiss_path):
        return "its bytes changed since it was written (corrupt)"
    return None

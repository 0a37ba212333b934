"""How the store's SQLite file is opened, and what its errors mean.

A store that cannot be written (a read-only disk, a folder this user may not write) is opened
read-only and served; its writes are refused with :class:`StoreReadOnly`. An error that is not
corruption (no permission, a read-only disk, a full disk) is never reported as corruption: the
advice for corruption, ``citeqa ingest --rebuild``, rewrites the store.
"""
from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

# the backend-neutral errors, re-exported where the SQLite code has always raised them from
from index.stores.errors import IndexCorrupt, IndexReadOnly, IndexUnavailable, StoreFull, StoreReadOnly  # noqa: F401

SQLITE_READONLY, SQLITE_FULL, SQLITE_CANTOPEN = 8, 13, 14
# Errors about access, not content: PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, AUTH.
# Anything else on opening (CORRUPT, NOTADB, "no such table" of a half-built store) is corruption.
ACCESS_CODES = {3, 5, 6, 7, 8, 10, 13, 14, 23}


def _code(exc: BaseException) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def is_corruption(exc: BaseException) -> bool:
    msg = str(exc).lower()
    if "malformed" in msg or "not a database" in msg:
        return True
    code = _code(exc)
    return code not in ACCESS_CODES if code else not any(w in msg for w in ("unable to open", "readonly", "locked",
                                                                              "disk i/o", "disk is full"))


def open_error(exc: sqlite3.DatabaseError, folder: Path, read_only_reason: str | None) -> Exception:
    """What a failure to open the store is: corruption (rebuild it), or not (never rebuild)."""
    if is_corruption(exc):
        return IndexCorrupt(f"the index at {folder} is corrupt or incomplete ({exc}); re-run `citeqa ingest --rebuild`")
    why = f" ({read_only_reason})" if read_only_reason else ""
    return IndexUnavailable(f"cannot open the index at {folder}: {exc}{why}; it is not corrupt: check its "
                            "permissions and its disk (do not rebuild it)")


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's "database or disk is full" (SQLite maps ENOSPC to it), or ENOSPC itself."""
    if isinstance(exc, sqlite3.Error):
        return _code(exc) == SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def unwritable_reason(path: Path) -> str | None:
    """Why this user cannot write the store (its file and folder: SQLite adds -wal/-shm files), or None."""
    folder = path.parent
    if os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK)):
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "a read-only file system"
    except OSError:
        pass
    return f"no permission to write {folder if not os.access(folder, os.W_OK) else path}"


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """One connection. Read-only: through SQLite's shared memory when another process keeps it
    (a writer next to us), else as an immutable file (a read-only disk: nothing can change it)."""
    if not read_only:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn
    uri = Path(path).resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if _code(exc) not in (SQLITE_CANTOPEN, SQLITE_READONLY):  # no -shm, and none can be made
            raise
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:  # immutable would skip the log's commits: refuse
        raise IndexUnavailable(
            f"the index at {path.parent} is read-only and its last writes are in {wal.name}, which SQLite "
            "cannot read without writing: open it once where it is writable (any citeqa command does)")
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False)

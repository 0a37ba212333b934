"""The errors every store backend raises, whatever engine is under it: the API and the CLI map
them to a status and a message without knowing the backend."""
from __future__ import annotations


class IndexCorrupt(RuntimeError):
    """The index folder cannot be read; the message says what to do."""


class StoreFull(OSError):
    """The disk of the index is full: the write was rolled back, nothing changed."""


class StoreReadOnly(OSError):
    """The store was opened read-only: writes are refused before anything is done."""


class IndexUnavailable(RuntimeError):
    """The index is there but cannot be opened, and is not corrupt (permissions, a read-only disk,
    a server that is down): the message says what to do, and it is never "rebuild"."""


class IndexReadOnly(IndexUnavailable):
    """Opened for writing (an ingest), but the store is read-only."""


__all__ = ["IndexCorrupt", "IndexReadOnly", "IndexUnavailable", "StoreFull", "StoreReadOnly"]

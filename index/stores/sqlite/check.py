"""`citeqa check [--repair]` of the embedded store: is it sound, and fix it when it is not.

Checks, from the cheapest: the store opens; SQLite's full `integrity_check`; FTS5's own check of the
BM25 index; the digest of the chunk vectors recomputed against the one the writes kept; the FAISS
cache's checksum and the store digest it was built from (index/stores/sqlite/integrity.py).

`--repair`: a FAISS cache that fails is rebuilt from the store (it is only a cache). A store that
fails is set aside (never deleted) and rebuilt from every document still readable in it, re-embedded
from its stored text, the way `citeqa ingest --rebuild` carries documents over.
Exit status: 0 sound (or repaired), 1 problems left, 2 no index or an error.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from index.config import EmbedderConfig, StoreConfig
from index.stores.sqlite import integrity
from index.stores.sqlite.index import DB_NAME
from index.stores.sqlite.access import IndexCorrupt, IndexUnavailable
from index.stores.sqlite.store import Store


@dataclass
class Findings:
    store: list[str] = field(default_factory=list)  # the store itself: repaired by a rebuild
    cache: list[str] = field(default_factory=list)  # the FAISS file: rebuilt from the store
    facts: dict = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        return not self.store and not self.cache


def inspect(index_dir: Path) -> Findings:
    """Every check, nothing written (FTS5's check runs on a writable store only: it is an INSERT)."""
    found = Findings()
    db = Path(index_dir) / DB_NAME
    try:
        store = Store(db, quick_check_bytes=0)  # the full check follows
    except IndexCorrupt as exc:
        found.store.append(str(exc))
        return found
    try:
        conn = store.conn
        problem = integrity.quick_check(conn, full=True)
        if problem:
            found.store.append(f"SQLite integrity_check: {problem}")
            return found
        if not store.read_only and (problem := integrity.fts_check(conn)):
            found.store.append(f"the BM25 (FTS5) index: {problem}")
        kept = store.get_meta(integrity.DIGEST_KEY)
        actual = integrity.as_text(integrity.compute_digest(conn))
        if kept and kept != actual:
            found.store.append("the chunk vectors in the store changed since they were written "
                               f"(digest {actual[:12]}…, written as {kept[:12]}…)")
        gen = store.generation()
        found.facts = {"generation": gen, **store.counts()}
        faiss_path = Path(index_dir) / f"dense-{gen}.faiss"
        if gen and not found.store:
            if not faiss_path.exists():
                found.cache.append(f"{faiss_path.name} is missing (rebuilt at the next start)")
            elif problem := integrity.cache_problem(faiss_path, kept or actual, gen):
                found.cache.append(f"{faiss_path.name}: {problem}")
    except Exception as exc:  # a damaged page can surface as any sqlite3 error while reading
        found.store.append(f"reading the store failed: {exc}")
    finally:
        store.close()
    return found


def repair_found(cfg: StoreConfig, embedder_cfg: EmbedderConfig, found: Findings) -> list[str]:
    """Fix what `inspect` found; returns what was done."""
    from index.embedding.embedder import Embedder
    from index.stores.sqlite.index import HybridIndex
    from index.ingest import ingest
    from index.stores.sqlite.salvage import set_aside

    embedder = Embedder.from_config(embedder_cfg)
    done = []
    if found.store:
        carried, error, aside = set_aside(Path(cfg.index_dir) / DB_NAME)
        index = HybridIndex.from_config(cfg, embedder, create=True, for_writing=True, rebuild=True)
        try:
            report = ingest(index, [], rebuild=True, carried=carried, progress=False)
        finally:
            index.close()
        done.append(f"moved the damaged store to {aside.name} and rebuilt it from the {len(report.added)} documents "
                    "read from it" + (f" (reading stopped at: {error})" if error else ""))
    elif found.cache:
        index = HybridIndex.from_config(cfg, embedder, for_writing=True)
        try:
            index.repair_dense()
        finally:
            index.close()
        done.append("rebuilt the FAISS cache from the store's vectors")
    return done


def main(cfg: StoreConfig, embedder_cfg: EmbedderConfig, repair: bool) -> int:
    """`citeqa check` of the embedded store (through index/stores/factory.check)."""
    db = Path(cfg.index_dir) / DB_NAME
    if not db.exists():
        print(f"citeqa check: no index at {cfg.index_dir} (run `citeqa ingest`)", file=sys.stderr)
        return 2
    try:
        found = inspect(cfg.index_dir)
    except IndexUnavailable as exc:
        print(f"citeqa check: {exc}", file=sys.stderr)
        return 2
    if found.sound:
        print(f"ok: {cfg.index_dir} is sound ({found.facts.get('documents', 0)} documents, "
              f"{found.facts.get('chunks', 0)} chunks, generation {found.facts.get('generation', 0)})")
        return 0
    for line in found.store + found.cache:
        print(f"problem: {line}")
    if not repair:
        print("run `citeqa check --repair` to fix it (documents are kept)")
        return 1
    try:
        for line in repair_found(cfg, embedder_cfg, found):
            print(f"repaired: {line}")
    except (OSError, IndexUnavailable) as exc:
        print(f"citeqa check: the repair failed: {exc}", file=sys.stderr)
        return 2
    after = inspect(cfg.index_dir)
    for line in after.store + after.cache:
        print(f"still a problem: {line}")
    if after.sound:
        print(f"ok: {cfg.index_dir} is sound now ({after.facts.get('documents', 0)} documents)")
    return 0 if after.sound else 1

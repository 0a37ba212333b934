"""Hardening point 6: corruption is found, not served. A damaged page of the store, flipped bytes in
the FAISS cache's vectors or ids, a stale cache under the right generation tag and bit rot in a
stored vector: each is detected (at open, or by `citeqa check`) and repaired or refused clearly."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index import check as check_cmd
from index.stores.sqlite import integrity
from index.stores.sqlite.index import DB_NAME, HybridIndex
from index.ingest import ingest
from index.stores.sqlite.store import IndexCorrupt, Store
from service import cli
from service.config import REPO_ROOT, Settings

SEEDS = REPO_ROOT / "seeds"

QUERIES = ["real-time missile warning data", "Lloyd Austin visit to Seoul", "trilateral exercise Freedom Edge"]


def _dense_results(index_dir: Path, embedder) -> list[list[int]]:
    idx = HybridIndex(index_dir, embedder)
    try:
        return [[i for i, _ in idx.search_dense(embedder.encode([q])[0], 10)] for q in QUERIES]
    finally:
        idx.close()


def _checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _damage_page_of(db: Path, table: str) -> None:
    """Overwrite one b-tree page of `table` with garbage, as a bad sector or a torn copy would."""
    _checkpoint(db)
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name=? ORDER BY pageno", (table,))]
    conn.close()
    assert len(pages) > 2, pages
    victim = pages[len(pages) // 2]
    with open(db, "r+b") as fh:
        fh.seek((victim - 1) * page_size)
        fh.write(np.random.default_rng(0).integers(0, 256, page_size, dtype=np.uint8).tobytes())


def _flip(path: Path, offset: int, n: int = 16) -> None:
    data = bytearray(path.read_bytes())
    for k in range(offset, offset + n):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))


def _check(index_dir: Path, *extra: str, capsys) -> tuple[int, str]:
    code = cli.main(["check", "--index-dir", str(index_dir), *extra])
    return code, capsys.readouterr().out


@pytest.fixture
def cli_env(monkeypatch):
    monkeypatch.setenv("CITEQA_SEEDS_DIR", str(SEEDS))


def test_a_sound_index_checks_ok(index_copy, capsys, cli_env):
    code, out = _check(index_copy, capsys=capsys)
    assert code == 0 and out.startswith("ok:") and "5 documents" in out, out


def test_a_damaged_page_is_refused_at_open_and_repaired_keeping_every_document(index_copy, embedder, capsys,
                                                                               cli_env):
    db = index_copy / DB_NAME
    before = sorted(d.doc_id for d in Store(db).documents())
    _damage_page_of(db, "sentences")
    # at open, not at the first question: ingest, serve and ask all open the store this way
    with pytest.raises(IndexCorrupt, match=r"corrupt .*citeqa check --repair"):
        Store(db)
    code = cli.main(["ingest", str(SEEDS), "--index-dir", str(index_copy)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and "corrupt" in err and "unchanged" not in err

    code, out = _check(index_copy, capsys=capsys)
    assert code == 1 and "problem:" in out and "--repair" in out, out
    code, out = _check(index_copy, "--repair", capsys=capsys)
    assert code == 0, out
    assert "moved the damaged store to" in out and "is sound now" in out, out
    assert list(index_copy.glob(f"{DB_NAME}.corrupt-*")), "the damaged store is kept aside, not deleted"
    store = Store(db)
    assert sorted(d.doc_id for d in store.documents()) == before
    store.close()
    from service.engine import Engine

    engine = Engine.load(Settings(index_dir=index_copy, seeds_dir=SEEDS, api_key=None), embedder=embedder)
    try:
        resp, _ = engine.answer("When did real-time missile-data sharing start?")
        assert not resp.abstained and "December 2023" in resp.answer
    finally:
        engine.close()


@pytest.mark.parametrize("where", ["vectors", "ids"])
def test_flipped_bytes_in_the_faiss_cache_are_not_served(index_copy, seed_index_dir, embedder, capsys, where, cli_env):
    clean = _dense_results(seed_index_dir, embedder)
    faiss_file = next(index_copy.glob("dense-*.faiss"))
    n = Store(index_copy / DB_NAME).counts()["chunks"]
    size = faiss_file.stat().st_size
    # IDMap2 over Flat: the vectors, then the n int64 ids at the end of the file
    offset = size - 8 * n + 8 * (n // 2) if where == "ids" else size - 8 * n - 4 * 384 * (n // 2)
    _flip(faiss_file, offset)
    code, out = _check(index_copy, capsys=capsys)
    assert code == 1 and "its bytes changed" in out, out
    assert _dense_results(index_copy, embedder) == clean  # rebuilt from the store on load
    gen, digest = Store(index_copy / DB_NAME).state()
    assert integrity.cache_problem(faiss_file, digest, gen) is None, "the rebuilt cache was saved"
    assert _check(index_copy, capsys=capsys)[0] == 0


def test_a_stale_cache_under_the_right_generation_tag_is_rebuilt(index_copy, seed_index_dir, embedder, tmp_path,
                                                                 capsys, cli_env):
    """Another index's FAISS file (and its sidecar) at the same generation number: the tag matches,
    the vectors are not this store's."""
    other = tmp_path / "other"
    idx = HybridIndex(other, embedder, create=True, for_writing=True)
    ingest(idx, [sorted(SEEDS.glob("*.txt"))[0]], progress=False)
    idx.close()
    gen = Store(index_copy / DB_NAME).generation()
    assert Store(other / DB_NAME).generation() == gen
    for suffix in (".faiss", ".json"):
        shutil.copy(other / f"dense-{gen}{suffix}", index_copy / f"dense-{gen}{suffix}")
    code, out = _check(index_copy, capsys=capsys)
    assert code == 1 and "stale copy" in out, out
    code, out = _check(index_copy, "--repair", capsys=capsys)
    assert code == 0 and "rebuilt the FAISS cache" in out, out
    assert _dense_results(index_copy, embedder) == _dense_results(seed_index_dir, embedder)


def test_a_faiss_file_without_its_sidecar_is_rebuilt(index_copy, seed_index_dir, embedder):
    side = integrity.sidecar_path(next(index_copy.glob("dense-*.faiss")))
    side.unlink()
    assert _dense_results(index_copy, embedder) == _dense_results(seed_index_dir, embedder)
    assert json.loads(side.read_text())["sha256"]


def test_bit_rot_in_a_stored_vector_is_found_by_check_and_re_embedded(index_copy, capsys, cli_env):
    db = index_copy / DB_NAME
    conn = sqlite3.connect(db)
    row_id, chunk_id, blob = conn.execute("SELECT id, chunk_id, vector FROM chunks ORDER BY id LIMIT 1 OFFSET 3").fetchone()
    conn.execute("UPDATE chunks SET vector=? WHERE id=?", (bytes(b ^ 1 for b in blob[:8]) + blob[8:], row_id))
    conn.commit()
    conn.close()
    code, out = _check(index_copy, capsys=capsys)
    assert code == 1 and "chunk vectors in the store changed" in out, out
    code, out = _check(index_copy, "--repair", capsys=capsys)
    assert code == 0 and "is sound now" in out, out
    conn = sqlite3.connect(db)
    (new,) = conn.execute("SELECT vector FROM chunks WHERE chunk_id=?", (chunk_id,)).fetchone()
    conn.close()
    # re-embedded from the stored text: the vector it had before the rot
    assert np.allclose(np.frombuffer(new, np.float32), np.frombuffer(blob, np.float32), atol=1e-4)


def test_the_digest_follows_every_write(index_copy, embedder):
    """Kept incrementally by the write path: it always equals a full recomputation."""
    idx = HybridIndex(index_copy, embedder, for_writing=True)
    try:
        doc = idx.store.documents()[0]
        text = idx.store.document_text(doc.doc_id)
        from index.types import CleanDocument

        idx.apply(idx.prepare([CleanDocument(doc_id="copy", title="Copy", text=text, date=None, author=None,
                                             source="", sha256="x")]), [doc.doc_id])
        kept = idx.store.get_meta(integrity.DIGEST_KEY)
        assert kept == integrity.as_text(integrity.compute_digest(idx.store.conn))
    finally:
        idx.close()


def test_quick_check_at_open_is_bounded_by_size(index_copy):
    db = index_copy / DB_NAME
    _damage_page_of(db, "sentences")
    Store(db, quick_check_bytes=1).close()  # too big to check at open: opens (`citeqa check` finds it)
    with pytest.raises(IndexCorrupt):
        Store(db)


def test_an_unreadable_store_is_refused_by_check_without_repair(tmp_path, capsys, cli_env):
    d = tmp_path / "index"
    d.mkdir()
    (d / DB_NAME).write_bytes(os.urandom(8192))
    code, out = _check(d, capsys=capsys)
    assert code == 1 and "corrupt" in out, out

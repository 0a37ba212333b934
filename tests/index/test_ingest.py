import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.stores.sqlite.index import DB_NAME, HybridIndex
from index.ingest import ingest
from index.stores.manifest import IndexMismatch
from index.stores.sqlite.store import IndexCorrupt
from service import cli
from tests.conftest import SEEDS


@pytest.fixture
def corpus(tmp_path) -> Path:
    d = tmp_path / "corpus"
    shutil.copytree(SEEDS, d)
    return d


@pytest.fixture
def fresh(tmp_path, embedder):
    def open_index(**kw):
        return HybridIndex(tmp_path / "idx", embedder, create=True, for_writing=True, **kw)

    return open_index


def test_first_run_builds_second_run_embeds_nothing(fresh, corpus):
    idx = fresh()
    first = ingest(idx, [corpus], progress=False)
    assert sorted(first.added) == sorted(p.stem for p in corpus.glob("*.txt"))
    assert first.chunks_embedded == first.totals["chunks"] > 20
    gen = idx.store.generation()
    again = ingest(idx, [corpus], progress=False)
    assert again.chunks_embedded == 0 and again.sentences_embedded == 0
    assert len(again.unchanged) == 5 and not again.added and not again.updated
    assert idx.store.generation() == gen  # nothing written at all
    assert "nothing embedded" in again.summary()


def test_changed_file_replaces_its_chunks_and_removed_file_leaves(fresh, corpus):
    idx = fresh()
    ingest(idx, [corpus], progress=False)
    target = next(corpus.glob("004_*.txt"))
    target.write_text(target.read_text(encoding="utf-8") + "\nThe ministers also agreed to meet again in Busan next spring.\n",
                      encoding="utf-8")
    gone = next(corpus.glob("002_*.txt"))
    gone.unlink()
    r = ingest(idx, [corpus], progress=False)
    assert r.updated == [target.stem] and r.removed == [gone.stem] and len(r.unchanged) == 3
    assert idx.store.document(gone.stem) is None
    assert "Busan next spring" in idx.store.document_text(target.stem)
    # the old chunks of the changed document are gone from BM25 and the dense index alike
    hits = idx.search_bm25("Busan spring", 5)
    assert hits and all(idx.store.chunks([h])[h].doc_id == target.stem for h, _ in hits)
    assert idx.dense.ntotal == idx.store.counts()["chunks"]
    assert not idx.store.bm25("Kurt Campbell breathtaking diplomacy", 5)


def test_documents_from_other_folders_are_left_alone(fresh, corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "extra.md").write_text("# Extra article\n\nAn extra article about Busan port security talks.\n", encoding="utf-8")
    idx = fresh()
    ingest(idx, [corpus], progress=False)
    r = ingest(idx, [other], progress=False)
    assert r.added == ["extra"] and not r.removed
    assert idx.store.counts()["documents"] == 6


def test_bad_inputs_are_reported_by_name_and_skipped(fresh, corpus, tmp_path):
    (corpus / "latin1.txt").write_bytes("Caf\xe9 au lait in Seoul.".encode("latin-1"))
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    (corpus / "blank.md").write_text("   \n\n  ", encoding="utf-8")
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    missing = tmp_path / "does-not-exist.txt"
    idx = fresh()
    r = ingest(idx, [corpus, missing], progress=False)
    reasons = {Path(s.path).name: s.reason for s in r.skipped}
    assert "not valid UTF-8" in reasons["latin1.txt"]
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.md"] == "empty file"
    assert "unsupported file type '.jpg'" in reasons["photo.jpg"]
    assert reasons["does-not-exist.txt"] == "no such file or directory"
    assert len(r.added) == 5  # the good files still went in


def test_unreadable_file_is_skipped(fresh, corpus, monkeypatch):
    p = corpus / "secret.txt"
    p.write_text("Secret words.", encoding="utf-8")
    p.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make the read fail as it would for a user
        real = Path.read_bytes
        monkeypatch.setattr(Path, "read_bytes",
                            lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
                            if self.name == "secret.txt" else real(self))
    r = ingest(fresh(), [corpus], progress=False)
    assert [s.reason for s in r.skipped if s.path.endswith("secret.txt")] == ["permission denied"]


def test_a_file_that_turns_bad_keeps_its_previous_version(fresh, corpus):
    idx = fresh()
    ingest(idx, [corpus], progress=False)
    target = next(corpus.glob("000_*.txt"))
    target.write_bytes(b"\xff\xfe broken")
    r = ingest(idx, [corpus], progress=False)
    assert not r.removed and idx.store.document(target.stem) is not None  # never lose data


def test_cli_exit_codes_and_summary(tmp_path, corpus, capsys):
    assert cli.main(["ingest", str(corpus), "--index-dir", str(tmp_path / "i")]) == 0
    out = capsys.readouterr().out
    assert "5 added" in out and "chunks" in out and "time:" in out
    (corpus / "bad.txt").write_bytes(b"\xc3\x28 invalid")
    assert cli.main(["ingest", str(corpus), "--index-dir", str(tmp_path / "i")]) == cli.EXIT_SKIPPED
    out = capsys.readouterr().out
    assert "bad.txt: not valid UTF-8" in out and "5 unchanged" in out


def test_corrupt_index_gives_a_clear_error_and_rebuild_recovers(tmp_path, corpus, capsys):
    d = tmp_path / "i"
    d.mkdir()
    (d / DB_NAME).write_bytes(b"this is not a database, just garbage bytes" * 100)
    assert cli.main(["ingest", str(corpus), "--index-dir", str(d)]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "corrupt or incomplete" in err and "--rebuild" in err and "Traceback" not in err
    assert cli.main(["ingest", str(corpus), "--index-dir", str(d), "--rebuild"]) == 0
    assert list(d.glob(DB_NAME + ".corrupt-*"))  # set aside, not deleted
    assert sqlite3.connect(d / DB_NAME).execute("select count(*) from documents").fetchone()[0] == 5


def test_index_built_with_another_model_is_refused_with_advice(index_copy, embedder):
    con = sqlite3.connect(index_copy / DB_NAME)
    manifest = json.loads(con.execute("select value from meta where key='manifest'").fetchone()[0])
    manifest["embedding_model"], manifest["embedding_dim"] = "some/other-model", 768
    con.execute("update meta set value=? where key='manifest'", (json.dumps(manifest),))
    con.commit()
    con.close()
    with pytest.raises(IndexMismatch, match=r"embedding_model.*--rebuild"):
        HybridIndex(index_copy, embedder)


def test_changed_chunk_settings_need_a_rebuild_to_write(index_copy, embedder, corpus):
    HybridIndex(index_copy, embedder, chunk_tokens=100)  # reading is fine
    with pytest.raises(IndexMismatch, match="chunk_tokens"):
        HybridIndex(index_copy, embedder, chunk_tokens=100, for_writing=True)
    idx = HybridIndex(index_copy, embedder, chunk_tokens=100, for_writing=True, rebuild=True)
    r = ingest(idx, [corpus], rebuild=True, progress=False)
    assert len(r.updated) == 5 and idx.store.manifest()["chunk_tokens"] == 100


def test_rebuild_keeps_documents_added_through_the_api(index_copy, embedder, corpus):
    from index.text.loading import make_document

    idx = HybridIndex(index_copy, embedder, for_writing=True)
    doc = make_document("api-doc", "API headline here\n\nAn article posted through the API about Busan.", source="api:x")
    idx.apply(idx.prepare([doc], progress=False), [])
    idx = HybridIndex(index_copy, embedder, for_writing=True, rebuild=True)
    r = ingest(idx, [corpus], rebuild=True, progress=False)
    assert "api-doc" in r.updated and idx.store.document("api-doc") is not None
    assert idx.dense.ntotal == idx.store.counts()["chunks"]


def test_missing_or_torn_dense_file_is_rebuilt_from_the_store(index_copy, embedder):
    faiss_file = next(index_copy.glob("dense-*.faiss"))
    n = HybridIndex(index_copy, embedder).dense.ntotal
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])  # torn write
    assert HybridIndex(index_copy, embedder).dense.ntotal == n
    for f in index_copy.glob("dense-*.faiss"):
        f.unlink()
    idx = HybridIndex(index_copy, embedder)
    assert idx.dense.ntotal == n and list(index_copy.glob("dense-*.faiss"))


def test_half_written_index_directory_is_a_clear_error(tmp_path, embedder):
    d = tmp_path / "half"
    d.mkdir()
    (d / DB_NAME).write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    with pytest.raises(IndexCorrupt, match="re-run `citeqa ingest --rebuild`"):
        HybridIndex(d, embedder)
    with pytest.raises(FileNotFoundError, match="citeqa ingest"):
        HybridIndex(tmp_path / "nothing-here", embedder)


def test_manifest_file_describes_the_build(index_copy):
    m = json.loads((index_copy / "manifest.json").read_text())
    assert m["format_version"] == 1 and m["embedding_dim"] == 384 and m["tokenizer"] == "cl100k_base"
    assert m["counts"]["documents"] == 5 and m["counts"]["chunks"] > 20 and m["built_at"]


def test_a_write_by_another_process_is_seen_without_a_restart(index_copy, embedder, corpus):
    """Two HybridIndex objects on one folder stand for `citeqa serve` and a `citeqa ingest` run."""
    from index.text.loading import make_document

    server = HybridIndex(index_copy, embedder)
    writer = HybridIndex(index_copy, embedder, for_writing=True)
    doc = make_document("busan", "Port talks in Busan\n\nOfficials met in Busan to discuss port security drills.")
    writer.apply(writer.prepare([doc], progress=False), [])
    q = embedder.encode(["port security drills in Busan"])[0]
    hits = server.search_dense(q, 3)  # refreshes from the writer's commit
    assert server.store.chunks([hits[0][0]])[hits[0][0]].doc_id == "busan"
    assert server.dense.ntotal == server.store.counts()["chunks"]
    # the server (stale since) writes next: its vectors must include the writer's document too
    writer.apply([], ["000_9a5729eff16b3773"])
    other = make_document("jeju", "Jeju forum\n\nA forum on Jeju island discussed maritime cooperation.")
    server.apply(server.prepare([other], progress=False), [])
    assert server.dense.ntotal == server.store.counts()["chunks"]
    ids = {server.store.chunks([i])[i].doc_id for i, _ in server.search_dense(q, 40)}
    assert "busan" in ids and "jeju" in ids and "000_9a5729eff16b3773" not in ids


def test_bare_surname_sentences_are_matched_as_stand_alone_but_quoted_verbatim(seed_engine, embedder, tmp_path):
    """"Park briefed …" is stored with the terms and vector of "… Vice Foreign Minister Park Yoon-joo
    briefed …" (mentions.py), while its offsets still cut the article's own words."""
    store = seed_engine.index.store
    doc = next(d for d in store.documents() if "pledge stronger deterrence" in d.title)
    text = store.document_text(doc.doc_id)
    rows = store.conn.execute("SELECT start, end, terms, vector FROM sentences WHERE doc_id=?", (doc.doc_id,)).fetchall()
    start, end, terms_, blob = next(r for r in rows if text[r[0]:r[1]].startswith("Park briefed his counterparts"))
    assert {"vice", "foreign", "minist", "brief", "counterpart"} <= set(terms_.split())
    # its vector: with sentence vectors of their own ("separate"), the stand-alone text's; the default
    # late vectors read the sentence in its chunk, where the introduction is context anyway
    from index.types import CleanDocument
    from index.stores.sqlite.index import HybridIndex

    from index.embedding.embedder import Embedder
    from service.config import Settings

    embedder = Embedder.from_config(Settings(embed_quantize=False).embedder_config())  # fp32: a vector does not move with its batch
    sep = HybridIndex(tmp_path / "sep", embedder, create=True, for_writing=True, late_sentences=False)
    try:
        sep.apply(sep.prepare([CleanDocument(doc_id="d", title=doc.title, text=text)]), [])
        (_, _, blob), = sep.store.conn.execute("SELECT start, end, vector FROM sentences WHERE start=?", (start,))
    finally:
        sep.close()
    plain, alone = embedder.encode(
        [text[start:end], "South Korea’s First Vice Foreign Minister Park Yoon-joo" + text[start + 4:end]], progress=False)
    stored = np.frombuffer(blob, dtype=np.float32)
    assert float(stored @ alone) > 0.999 and float(stored @ plain) < 0.99
    hits = store.conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'park AND briefed AND vice'").fetchall()
    assert hits  # BM25 sees the stand-alone text too


def test_rebuild_of_a_corrupt_store_keeps_the_documents_that_live_only_there(index_copy, embedder, corpus, capsys):
    from index.text.loading import make_document

    idx = HybridIndex(index_copy, embedder, for_writing=True)
    doc = make_document("api-doc", "API headline here\n\nAn article posted through the API about Busan.", source="api:x")
    idx.apply(idx.prepare([doc], progress=False), [])
    idx.close()
    db = index_copy / DB_NAME
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")  # everything in the main file, to damage it there
    page = con.execute("PRAGMA page_size").fetchone()[0]
    roots = [r for (r,) in con.execute("SELECT rootpage FROM sqlite_master WHERE name LIKE 'chunks_fts_%' AND rootpage")]
    con.close()
    with open(db, "r+b") as fh:  # the full-text index's pages torn; the documents' pages intact
        for root in roots:
            fh.seek((root - 1) * page)
            fh.write(b"\xff" * page)
    assert cli.main(["ingest", str(corpus), "--index-dir", str(index_copy)]) == cli.EXIT_ERROR
    assert "corrupt or incomplete" in capsys.readouterr().err

    assert cli.main(["ingest", str(corpus), "--index-dir", str(index_copy), "--rebuild"]) == 0
    err = capsys.readouterr().err
    assert "moved it to" in err and "6 documents read from it are kept" in err
    assert list(index_copy.glob(DB_NAME + ".corrupt-*"))  # set aside, not deleted
    idx = HybridIndex(index_copy, embedder)
    assert idx.store.document("api-doc") is not None and idx.store.counts()["documents"] == 6
    assert "Busan" in idx.store.document_text("api-doc")
    assert idx.dense.ntotal == idx.store.counts()["chunks"]


def test_a_file_over_the_configured_size_is_skipped_with_advice(tmp_path, corpus, capsys, monkeypatch):
    (corpus / "big.txt").write_text("A long article.\n\n" + "Officials met in Seoul on Tuesday. " * 4000)
    monkeypatch.setenv("CITEQA_MAX_FILE_MB", "0.05")
    assert cli.main(["ingest", str(corpus), "--index-dir", str(tmp_path / "i")]) == cli.EXIT_SKIPPED
    out = capsys.readouterr().out
    assert "big.txt: file is too large (0.14 MB > the limit of 0.05 MB" in out and "CITEQA_MAX_FILE_MB" in out
    assert "5 added" in out

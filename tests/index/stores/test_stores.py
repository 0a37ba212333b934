"""Both store backends (embedded SQLite + FAISS, Milvus through milvus-lite) hold and return the
same documents, candidates and answers, and write each document atomically."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SEEDS, make_settings
from index.types import CleanDocument
from index.stores.factory import open_index
from index.ingest import ingest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

BACKENDS = ("embedded", "milvus")


@pytest.fixture(scope="module")
def engines(seed_engine, milvus_seed_engine):
    """The seed index's engine per backend (the suite's shared ones: read them only)."""
    return {"embedded": seed_engine, "milvus": milvus_seed_engine}


def _writable(tmp_path, embedder, backend: str):
    from service.engine import Engine

    settings = make_settings(tmp_path / "index", store=backend)
    idx = open_index(settings.store_config(), embedder, create=True, for_writing=True)
    ingest(idx, [SEEDS], progress=False)
    return Engine(settings, embedder, idx)


def test_both_backends_hold_the_same_documents(engines):
    a, b = (engines[k].index.store for k in BACKENDS)
    assert a.counts() == b.counts() == {"documents": 5, "chunks": a.counts()["chunks"], "sentences": a.counts()["sentences"]}
    assert [(d.doc_id, d.title, d.date, d.sha256, d.n_chunks) for d in a.documents()] == \
           [(d.doc_id, d.title, d.date, d.sha256, d.n_chunks) for d in b.documents()]
    for d in a.documents():
        assert a.document_text(d.doc_id) == b.document_text(d.doc_id)
        sa, sb = a.doc_sentences([d.doc_id])[d.doc_id], b.doc_sentences([d.doc_id])[d.doc_id]
        assert [(s.start, s.end, s.terms) for s in sa] == [(s.start, s.end, s.terms) for s in sb]
        assert np.allclose(np.stack([s.vector for s in sa]), np.stack([s.vector for s in sb]), atol=1e-6)
    terms = ["missil", "austin", "japan", "nonexistentterm"]
    assert a.document_frequencies(terms) == b.document_frequencies(terms)


def _spans(engine, hits):
    rows = engine.index.store.chunks([i for i, _ in hits])
    return [(rows[i].doc_id, rows[i].start, rows[i].end) for i, _ in hits]


def test_dense_candidates_are_the_same(engines):
    a, b = (engines[k] for k in BACKENDS)
    for q in ("When did real-time missile-data sharing start?", "Who is the U.S. defense secretary?"):
        qvec = a.embed(q)
        da, db = a.index.search_dense(qvec, 10), b.index.search_dense(qvec, 10)
        assert len(da) == len(db) == 10
        assert _spans(a, da) == _spans(b, db)
        assert np.allclose([s for _, s in da], [s for _, s in db], atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_filters_keep_to_the_chosen_documents_and_dates(engines, backend):
    from service.schemas import Filters

    eng = engines[backend]
    docs = eng.index.store.documents()
    one = docs[1].doc_id
    r = eng.ask("Who is the U.S. defense secretary?", filters=Filters(doc_ids=[one]))
    assert {p.doc_id for p in r.passages} == {one}
    dated = sorted(d.date for d in docs if d.date)
    r = eng.ask("What did the three countries agree?", filters=Filters(date_from=dated[-1]))
    assert {p.doc_id for p in r.passages} <= {d.doc_id for d in docs if d.date and d.date >= dated[-1]}
    assert eng.ask("Who is the U.S. defense secretary?", filters=Filters(doc_ids=["no-such-doc"])).passages == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_replace_delete(tmp_path, embedder, backend):
    from service.schemas import DocumentIn

    eng = _writable(tmp_path, embedder, backend)
    try:
        long_text = "\n\n".join(f"Paragraph {i}: the harbour of Quillport shipped {i} tonnes of zinc in May."
                                for i in range(400))  # > one Milvus text part (16,000 characters)
        doc, created = eng.add_document(DocumentIn(doc_id="zinc-뉴스", title="Zinc exports",
                                                   text="Quillport sells zinc.\n\n" + long_text))
        assert created and eng.index.store.document_text(doc.doc_id) == doc.text
        r = eng.ask("What does Quillport sell?")
        assert "zinc" in (r.short_answer or "").lower() and r.citations[0].doc_id == doc.doc_id
        _, created = eng.add_document(DocumentIn(doc_id=doc.doc_id, title="Zinc exports",
                                                 text="Quillport sells copper now. It stopped selling zinc."))
        assert not created
        assert eng.index.store.counts()["documents"] == 6
        assert "copper" in (eng.ask("What does Quillport sell now?").short_answer or "").lower()
        assert eng.delete_document(doc.doc_id)
        assert eng.index.store.document(doc.doc_id) is None and eng.index.store.counts()["documents"] == 5
        assert all(p.doc_id != doc.doc_id for p in eng.ask("What does Quillport sell?").passages)
    finally:
        eng.close()


def test_a_write_killed_before_its_commit_leaves_no_partial_document(tmp_path, embedder, monkeypatch):
    """Milvus: the rows of a version are written first and the document row last; a writer that
    dies in between leaves rows nobody reads, and the next write of that document removes them."""
    from index.stores.milvus.check import inspect as inspect_milvus
    from index.stores.milvus.client import MilvusConn

    eng = _writable(tmp_path, embedder, "milvus")
    conn = eng.index.store.conn
    try:
        doc = CleanDocument(doc_id="ghost", title="Ghost", text="The ghost ship Marrowind carried 77 barrels of tar.",
                            source="api:ghost", sha256="0" * 64)
        real = MilvusConn.upsert

        def dies_at_commit(self, kind, rows):
            if kind == "documents":
                raise KeyboardInterrupt("killed")  # what a kill does to the writer: nothing after this runs
            return real(self, kind, rows)

        monkeypatch.setattr(MilvusConn, "upsert", dies_at_commit)
        with pytest.raises(KeyboardInterrupt):
            eng.index.apply(eng.index.prepare([doc], progress=False), [])
        monkeypatch.setattr(MilvusConn, "upsert", real)
        conn.flush()
        assert conn.count("chunks", 'doc_id == "ghost"') > 0  # the orphaned rows are there...
        assert eng.index.store.document("ghost") is None  # ...and invisible
        r = eng.ask("How many barrels did the Marrowind carry?")
        assert all(p.doc_id != "ghost" for p in r.passages)
        found = inspect_milvus(conn)  # `citeqa check` finds the orphans...
        assert not found.sound and found.orphans["chunks"] > 0 and not found.missing and found.documents == 5
        inspect_milvus(conn, repair=True)  # ...and --repair deletes them, touching no document
        assert inspect_milvus(conn).sound and eng.index.store.counts()["documents"] == 5
        monkeypatch.setattr(MilvusConn, "upsert", dies_at_commit)
        with pytest.raises(KeyboardInterrupt):
            eng.index.apply(eng.index.prepare([doc], progress=False), [])
        monkeypatch.setattr(MilvusConn, "upsert", real)
        eng.index.apply(eng.index.prepare([doc], progress=False), [])
        n = eng.index.store.document("ghost").n_chunks
        conn.flush()
        assert conn.count("chunks", 'doc_id == "ghost"') == n  # the orphans went with the next write
        assert inspect_milvus(conn).sound
        assert eng.ask("How many barrels did the Marrowind carry?").short_answer == "77"
    finally:
        eng.close()


def test_milvus_literals_cannot_widen_an_expression():
    from index.stores.milvus.client import in_list, literal

    assert literal('a"b\\c') == '"a\\"b\\\\c"'
    assert in_list("doc_id", ['x"] or id > 0 or doc_id in ["']) == 'doc_id in ["x\\"] or id > 0 or doc_id in [\\""]'
    assert literal("line\nbreak\ttab") == '"line\\nbreak\\ttab"'
    with pytest.raises(ValueError):
        literal("nul\x00")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_name_with_quotes_is_a_document_like_any_other(tmp_path, embedder, backend):
    """Ingest takes a file's stem as its id, quotes and backslashes included: Milvus expressions
    must quote them (index/stores/milvus/client.literal), not break on them or match more."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = 'it\'s "the" \\ report'
    (corpus / f"{name}.txt").write_text("Quillport report\n\nQuillport sells 12 crates of figs a day.\n")
    settings = make_settings(tmp_path / "index", store=backend)
    idx = open_index(settings.store_config(), embedder, create=True, for_writing=True)
    try:
        ingest(idx, [corpus], progress=False)
        assert [d.doc_id for d in idx.store.documents()] == [name]
        assert "figs" in idx.store.document_text(name)
        assert idx.store.documents_by_id([name, 'x" or doc_id != "'])[name].title == "Quillport report"
        assert [idx.store.chunks([i])[i].doc_id for i, _ in idx.search_bm25("figs", 5, idx.allowed([name], None, None))] == [name]
        (corpus / f"{name}.txt").unlink()
        ingest(idx, [corpus], progress=False)
        assert idx.store.documents() == []
    finally:
        idx.close()


def test_both_backends_are_the_interfaces_the_service_holds(engines):
    from index.stores.base import Index, Store

    for backend in BACKENDS:
        index = engines[backend].index
        assert isinstance(index, Index), backend
        assert isinstance(index.store, Store), backend


def test_an_index_the_engine_cannot_build_is_refused_clearly(tmp_path):
    """milvus-lite builds FLAT, IVF_FLAT and AUTOINDEX only: CITEQA_MILVUS_INDEX=HNSW is refused with
    a message naming the setting, and no collection is left half-made."""
    from index.stores.milvus.client import IndexTypeRefused, MilvusConn, StoreUnreachable
    from index.stores.milvus.schema import DenseIndex

    with pytest.raises(IndexTypeRefused, match="CITEQA_MILVUS_INDEX=HNSW"):
        MilvusConn(str(tmp_path / "m.db"), dense=DenseIndex("HNSW"), create=True)
    conn = MilvusConn(str(tmp_path / "m.db"), dense=DenseIndex("IVF_FLAT"), create=True)
    assert conn.index_type == "IVF_FLAT" and len(conn.client.list_collections()) == 6
    conn.close()
    with pytest.raises(StoreUnreachable, match="CITEQA_MILVUS_URI"):
        MilvusConn(str(tmp_path / ("x" * 40 + ".db")), create=True)

"""A full disk: the FAISS file is a cache and never fails a committed write or a start; a write the
store cannot commit is a 507 with nothing lost. On a real, small tmpfs (needs root to mount; skipped
otherwise) and, for the FAISS error after the commit, with faiss made to fail the way it does."""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.server.app import create_app
from service.engine import Engine
from svc_helpers import AUTH, LiveServer, keyed, tmpfs

ARTICLE = {"doc_id": "harbor-bridge", "title": "Harbor bridge reopens after repairs",
           "text": "The Harbor Bridge reopened to traffic on May 2, 2024, after eleven months of repairs. "
                   "City engineers said the repairs cost 42 million dollars."}
QUESTION = "How much did the Harbor Bridge repairs cost?"


def top_doc(client, query=QUESTION) -> str | None:
    results = client.post("/api/search", json={"query": query, "top_k": 1}).json()["results"]
    return results[0]["doc_id"] if results else None


def test_a_faiss_error_after_the_commit_is_not_a_500(writable_engine, embedder, monkeypatch, caplog):
    import index.stores.sqlite.vectors

    def no_space(index, path):
        raise RuntimeError(f"Error in faiss::FileIOWriter: write failed for {path}: No space left on device")

    monkeypatch.setattr(index.stores.sqlite.vectors.faiss, "write_index", no_space)
    settings = keyed(writable_engine.settings)
    with TestClient(create_app(settings, engine=writable_engine)) as c:
        r = c.post("/api/documents", json=ARTICLE, headers=AUTH)
        assert r.status_code == 201, r.text  # the store committed it: that is the truth
        assert top_doc(c) == "harbor-bridge"  # and it is served, from the vectors in memory
        assert c.delete("/api/documents/004_7a69a8cc4624d686", headers=AUTH).status_code == 200
    assert any("could not save the dense index" in rec.getMessage() for rec in caplog.records)
    assert not list(Path(settings.index_dir).glob("*.tmp"))  # no half-written cache left behind

    # a restart with faiss still failing: the cache is rebuilt from the store, the start succeeds
    engine2 = Engine.load(writable_engine.settings, embedder=embedder)
    try:
        with TestClient(create_app(settings, engine=engine2)) as c:
            ids = {d["doc_id"] for d in c.get("/api/documents").json()}
            assert "harbor-bridge" in ids and "004_7a69a8cc4624d686" not in ids
            assert top_doc(c) == "harbor-bridge"
    finally:
        engine2.close()


# ---- a real full disk ------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    with tmpfs(mnt, "4m"):
        yield mnt


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with a file, returned so that it can be shrunk."""
    filler = disk / f"filler-{uuid.uuid4().hex}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_refuses_writes_with_507_and_loses_nothing(small_disk, seed_index_dir, seed_settings, embedder,
                                                              caplog, tmp_path):
    index_dir = small_disk / "index"
    shutil.copytree(seed_index_dir, index_dir)
    settings = keyed(seed_settings.model_copy(update={"index_dir": index_dir}))
    engine = Engine.load(settings, embedder=embedder)
    filler = fill(small_disk)
    try:
        with TestClient(create_app(settings, engine=engine)) as c:
            before = c.get("/api/documents").json()
            r = c.post("/api/documents", json=ARTICLE, headers=AUTH)
            assert r.status_code == 507, r.text
            assert "no space left" in r.json()["detail"] and "nothing was written" in r.json()["detail"]
            assert c.get("/api/documents").json() == before  # nothing lost, nothing half-written
            assert c.get("/api/documents/harbor-bridge").status_code == 404
            assert c.post("/api/ask", json={"question": QUESTION}).status_code == 200  # reads go on
            r = c.delete("/api/documents/004_7a69a8cc4624d686", headers=AUTH)  # may fit where the POST failed
            assert r.status_code in (200, 507), r.text
            still_there = c.get("/api/documents/004_7a69a8cc4624d686").status_code == 200
            assert still_there == (r.status_code == 507)
            if not still_there:  # it was deleted: one document fewer below
                before = [d for d in before if d["doc_id"] != "004_7a69a8cc4624d686"]

            # free the space a little at a time: every answer tells the truth about what is stored
            size = filler.stat().st_size
            answers = []
            while size > 0:
                size = max(0, size - 8192)
                with open(filler, "r+b") as fh:
                    fh.truncate(size)
                r = c.post("/api/documents", json=ARTICLE, headers=AUTH)
                answers.append(r.status_code)
                assert r.status_code in (201, 507), r.text
                stored = c.get("/api/documents/harbor-bridge").status_code == 200
                assert stored == (r.status_code == 201)
                if stored:
                    break
            assert answers[-1] == 201 and top_doc(c) == "harbor-bridge", answers
    finally:
        engine.close()

    # the disk full again: the server still starts, and serves every committed document
    fill(small_disk)
    caplog.clear()
    engine2 = Engine.load(settings, embedder=embedder)
    assert any("could not save the dense index" in rec.getMessage() for rec in caplog.records)
    try:
        with TestClient(create_app(settings, engine=engine2)) as c:
            assert c.get("/readyz").json()["documents"] == len(before) + 1
            assert top_doc(c) == "harbor-bridge"
    finally:
        engine2.close()

    # and so does `citeqa serve` (it used to exit), answering writes with 507
    for cache in index_dir.glob("dense-*.faiss"):
        cache.unlink()
    fill(small_disk)
    server = LiveServer(index_dir, tmp_path, model_name=embedder.model_name)
    try:
        server.wait_ready()
        assert httpx.get(server.url + "/readyz").json()["documents"] == len(before) + 1
        r = httpx.post(server.url + "/api/documents", json={**ARTICLE, "doc_id": "another"}, headers=AUTH, timeout=60)
        assert r.status_code == 507, r.text
    finally:
        server.stop()

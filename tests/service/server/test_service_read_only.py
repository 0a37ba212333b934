"""A read-only index (a read-only disk: a tmpfs remounted ro; needs root to mount, skipped
otherwise) is served, not called corrupt; writes are a clear 503, and nothing is moved or rebuilt."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.stores.sqlite.index import HybridIndex
from index.text.loading import make_document
from service import cli
from service.server.app import _precheck, create_app
from service.engine import Engine
from svc_helpers import AUTH, keyed, tmpfs

API_TEXT = "Busan port reopens\n\nThe port of Busan reopened on Tuesday after a two-day typhoon closure."


def snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def ro_index(tmp_path, seed_index_dir, embedder):
    """A copy of the seed index plus one article that lives only in the store, on a read-only disk."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    with tmpfs(mnt, "8m"):
        index_dir = mnt / "index"
        shutil.copytree(seed_index_dir, index_dir)
        idx = HybridIndex(index_dir, embedder, for_writing=True)
        idx.apply(idx.prepare([make_document("busan-port", API_TEXT, source="api:busan-port")], progress=False), [])
        idx.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield index_dir


def test_a_read_only_index_is_served_and_refuses_writes(ro_index, seed_settings, embedder, caplog):
    before = snapshot(ro_index)
    settings = keyed(seed_settings.model_copy(update={"index_dir": ro_index}))
    assert _precheck(settings, ingest_first=False) is None  # `serve` starts: not "corrupt"
    engine = Engine.load(settings, embedder=embedder)
    try:
        assert "read-only" in caplog.text
        with TestClient(create_app(settings, engine=engine)) as c:
            assert c.get("/readyz").json() == {"status": "ready", "documents": 6}
            data = c.post("/api/ask", json={"question": "When did the port of Busan reopen?"}).json()
            assert data["citations"] and data["citations"][0]["doc_id"] == "busan-port"
            r = c.post("/api/documents", json={"doc_id": "new", "text": "A new article."}, headers=AUTH)
            assert r.status_code == 503 and "read-only file system" in r.json()["detail"], r.text
            assert "nothing was written" in r.json()["detail"]
            r = c.delete("/api/documents/busan-port", headers=AUTH)
            assert r.status_code == 503 and "read-only" in r.json()["detail"]
            assert c.get("/api/documents/busan-port").status_code == 200
    finally:
        engine.close()
    assert snapshot(ro_index) == before


def test_serve_ingest_serves_a_read_only_index_as_it_is(ro_index, seed_settings, embedder, caplog):
    settings = seed_settings.model_copy(update={"index_dir": ro_index})
    engine = Engine.load(settings, ingest_if_needed=True, embedder=embedder)  # what `make run` does
    try:
        assert engine.index.store.counts()["documents"] == 6
        assert "without ingesting" in caplog.text
    finally:
        engine.close()


@pytest.mark.parametrize("args", [[], ["--rebuild"]])
def test_ingest_into_a_read_only_index_changes_nothing(ro_index, args, capsys):
    before = snapshot(ro_index)
    assert cli.main(["ingest", "--index-dir", str(ro_index), *args]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "read-only" in err and "corrupt" not in err and "--rebuild" not in err and "Traceback" not in err
    assert snapshot(ro_index) == before  # nothing moved aside, nothing rebuilt

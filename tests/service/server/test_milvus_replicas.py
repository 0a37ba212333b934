"""Several processes on one Milvus store (a real `milvus-lite server`): two `citeqa serve` replicas
see each other's writes; a writer killed mid-write leaves no partial document; `ingest --workers`."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from service.config import REPO_ROOT
from svc_helpers import ANCHOR_QUESTION, AUTH, LiveServer, citeqa_bin, free_port, server_env

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
pytestmark = pytest.mark.slow


class MilvusServer:
    """`citeqa milvus-server` (Milvus' C++ engine over gRPC) on a free port, killed and restarted at will."""

    def __init__(self, data):
        self.data, self.port = data, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = self.data / "server.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([citeqa_bin(), "milvus-server", "--data-dir", str(self.data), "--port",
                                          str(self.port)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while b"listening" not in log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"citeqa milvus-server did not start: {log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the engine goes with it (it dies with its parent)."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            assert self.proc.wait(timeout=30) == 0


def _start_server(data):
    server = MilvusServer(data)
    return server.proc, server.uri


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    server = MilvusServer(tmp_path_factory.mktemp("milvus-data"))
    yield server
    server.stop()


def _milvus(uri: str) -> dict:
    # replicas of the store under test; each reads with the first stage alone (as the suite's engines do,
    # tests/conftest.py): the shipped second stage would add its 110 MB load to every replica
    return {"CITEQA_STORE": "milvus", "CITEQA_MILVUS_URI": uri, "CITEQA_MILVUS_REFRESH_S": "0.5",
            "CITEQA_MILVUS_TIMEOUT_S": "3", "CITEQA_READER_SECOND": "false"}


def _env(uri: str) -> dict:
    return server_env(**_milvus(uri))


@pytest.fixture(scope="module")
def seeded(milvus_server, tmp_path_factory):
    """The seeds ingested into the server by two worker processes."""
    work = tmp_path_factory.mktemp("ingest")
    proc = subprocess.run([citeqa_bin(), "ingest", "--workers", "2", str(REPO_ROOT / "seeds")], cwd=work,
                          env=_env(milvus_server.uri), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "5 added" in proc.stdout and "index now: 5 documents" in proc.stdout, proc.stdout
    return milvus_server.uri


def _start_replicas(seeded, tmp_path, servers: list) -> list:
    """Two `citeqa serve` replicas on the seeded Milvus store, appended to `servers` (which the
    caller stops) as they start, then waited for."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(LiveServer(tmp_path / name / "index", tmp_path / name, extra_env=_milvus(seeded)))
    for s in servers:
        s.wait_ready()
    return servers


def test_a_replica_killed_mid_upload_leaves_no_partial_document(seeded, tmp_path):
    """SIGKILL a `citeqa serve` replica while its upload's rows are going into Milvus (small insert
    batches make that phase last); the other replica never lists or cites the document."""
    import threading

    from index.stores.milvus.client import MilvusConn

    servers = []
    try:
        for name, extra in (("a", {"CITEQA_MILVUS_INSERT_BATCH": "4"}), ("b", {})):
            (tmp_path / name).mkdir()
            servers.append(LiveServer(tmp_path / name / "index", tmp_path / name, extra_env={**_milvus(seeded), **extra}))
        for s in servers:
            s.wait_ready()
        a, b = servers
        text = " ".join(f"Depot {i} of the Varnholm line stores {i * 3} tonnes of grain." for i in range(400))
        doc = {"doc_id": "varnholm", "title": "Varnholm depots", "text": text}
        def upload():
            try:
                httpx.post(a.url + "/api/documents", json=doc, headers=AUTH, timeout=300)
            except httpx.HTTPError:  # the replica is killed under it
                pass

        threading.Thread(target=upload, daemon=True).start()
        conn = MilvusConn(seeded)
        deadline = time.monotonic() + 120
        while conn.count("sentences", 'doc_id == "varnholm"') == 0:  # embedded; its rows are going in
            assert time.monotonic() < deadline and a.proc.poll() is None, a.log.read_text()
            time.sleep(0.02)
        a.proc.kill()
        a.proc.wait()
        assert conn.count("documents", 'doc_id == "varnholm"') == 0  # never committed
        time.sleep(1.0)  # b's refresh interval (0.5 s)
        assert httpx.get(b.url + "/api/documents/varnholm", timeout=30).status_code == 404
        assert "varnholm" not in {d["doc_id"] for d in httpx.get(b.url + "/api/documents", timeout=30).json()}
        r = httpx.post(b.url + "/api/ask", json={"question": "How many tonnes of grain does depot 7 store?"},
                       timeout=60).json()
        assert all(p["doc_id"] != "varnholm" for p in r["passages"])
        conn.close()
    finally:
        for s in servers:
            s.stop()


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from index.types import CleanDocument
    from index.stores.milvus.client import MilvusConn
    from index.stores.milvus.index import MilvusIndex

    class Stub:  # the write path does not care where vectors come from; a model would take minutes here
        model_name, dim, can_late_chunk = "sentence-transformers/all-MiniLM-L6-v2+onnx-int8", 384, True
        def encode(self, texts, progress=None):
            v = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)
        def encode_spans(self, texts, spans):  # late sentence vectors, as the store was built
            v = self.encode(texts)
            return v, [[v[i]] * len(s) for i, s in enumerate(spans)]

    index = MilvusIndex(MilvusConn(sys.argv[1]), Stub(), for_writing=True)
    text = " ".join(f"Sentence {i} of the long report says the value was {i}." for i in range(6000))
    doc = CleanDocument(doc_id="long-report", title="Long report", text=text, source="api:x", sha256="1" * 64)
    bundles = index.prepare([doc], progress=False)
    print("writing", flush=True)
    index.apply(bundles, [])
    print("committed", flush=True)
""")


def test_a_writer_killed_mid_write_leaves_no_partial_document(seeded, tmp_path):
    from index.stores.milvus.client import MilvusConn
    from index.stores.milvus.store import MilvusStore

    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), seeded], cwd=REPO_ROOT, env=_env(seeded),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout.readline().strip() == "writing", proc.stdout.read()
    store = MilvusStore(MilvusConn(seeded))
    deadline = time.monotonic() + 60
    while store.conn.count("sentences", 'doc_id == "long-report"') == 0:  # rows are going in
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "committed" not in proc.stdout.read()
    assert store.document("long-report") is None
    assert "long-report" not in {d.doc_id for d in store.documents()}
    assert store.counts()["documents"] == 5
    store.close()


def test_one_engine_per_data_file(milvus_server):
    """A second `citeqa milvus-server` on the same data is refused with a message, not a second engine."""
    proc = subprocess.run([citeqa_bin(), "milvus-server", "--data-dir", str(milvus_server.data), "--port",
                           str(free_port())], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "another process" in proc.stderr and "Traceback" not in proc.stderr


def test_workers_are_refused_on_the_embedded_store(tmp_path):
    proc = subprocess.run([citeqa_bin(), "ingest", "--workers", "2", "--index-dir", str(tmp_path / "i"),
                           str(REPO_ROOT / "seeds")], cwd=tmp_path, env=server_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "one writer" in proc.stderr and "Traceback" not in proc.stderr



def test_a_store_that_stops_answering_is_a_503_not_a_500(tmp_path, embedder):
    """The Milvus server goes away under a running API: questions and writes get a 503 that names
    the store, and /readyz says not ready; no traceback reaches the client."""
    from fastapi.testclient import TestClient

    from index.stores.factory import open_index
    from index.ingest import ingest
    from service.server.app import create_app
    from service.engine import Engine
    from svc_helpers import keyed
    from tests.conftest import SEEDS, make_settings

    proc, uri = _start_server(tmp_path / "data")
    try:
        # the call timeout of the replica tests (3 s): each of the three refused calls below waits it out
        settings = make_settings(tmp_path / "index", store="milvus", milvus_uri=uri, milvus_refresh_s=0.0,
                                 milvus_timeout_s=3)
        idx = open_index(settings.store_config(), embedder, create=True, for_writing=True)
        # the anchor's article alone: the store going away is the point, not the corpus
        ingest(idx, [next(p for p in sorted(SEEDS.glob("*.txt")) if "December 2023" in p.read_text())], progress=False)
        engine = Engine(settings, embedder, idx)
        with TestClient(create_app(keyed(settings), engine=engine)) as c:
            assert c.post("/api/ask", json={"question": ANCHOR_QUESTION}).json()["short_answer"] == "December 2023"
            proc.kill()
            proc.wait()
            r = c.post("/api/ask", json={"question": "Who is the U.S. defense secretary?"})
            assert r.status_code == 503 and "Milvus" in r.json()["detail"], r.text
            r = c.post("/api/documents", json={"doc_id": "x", "text": "Some text about zinc."}, headers=AUTH)
            assert r.status_code == 503, r.text
            assert c.get("/readyz").status_code == 503
    finally:
        if proc.poll() is None:
            proc.kill()


def _ask(server, question: str) -> httpx.Response:
    return httpx.post(server.url + "/api/ask", json={"question": question}, timeout=60)


def _until(check, seconds: float = 10.0):
    """Polls `check()` until it returns something truthy (a replica refreshes every 0.5 s here)."""
    deadline = time.monotonic() + seconds
    while not (got := check()):
        assert time.monotonic() < deadline, "another replica's write was not seen in time"
        time.sleep(0.25)
    return got


def test_two_replicas_see_each_others_writes_and_outlive_the_engine(milvus_server, seeded, tmp_path):
    """Two replicas on one store: both serve the shared seeds, each sees the other's add and delete
    (and answers from the added document). Then SIGKILL the engine while they serve: their asks and
    writes are 503s naming the store within the call timeout (3 s here), they answer again once it
    is back, with no restart of citeqa, and every write acknowledged before the kill is there after it."""
    servers = []
    try:
        a, b = _start_replicas(seeded, tmp_path, servers)
        for s in servers:  # both serve the shared seeds
            assert _ask(s, ANCHOR_QUESTION).json()["short_answer"] == "December 2023"
        zinc = {"doc_id": "ferrowick", "title": "Ferrowick mill", "text": "The Ferrowick mill ground 730 tonnes of rye in June 2024."}
        gone = {"doc_id": "brackmoor", "title": "Brackmoor", "text": "Brackmoor's ferry carried 51 carts in 2021."}
        assert httpx.post(a.url + "/api/documents", json=zinc, headers=AUTH, timeout=120).status_code == 201
        assert httpx.post(a.url + "/api/documents", json=gone, headers=AUTH, timeout=120).status_code == 201
        rye = "How many tonnes of rye did the Ferrowick mill grind?"
        r = _until(lambda: (r := _ask(b, rye).json())["short_answer"] and "730" in r["short_answer"] and r)
        assert r["citations"][0]["doc_id"] == "ferrowick"
        assert httpx.delete(b.url + "/api/documents/brackmoor", headers=AUTH, timeout=60).status_code == 200
        _until(lambda: httpx.get(a.url + "/api/documents/brackmoor", timeout=30).status_code == 404)

        milvus_server.kill()
        for s in servers:
            t = time.monotonic()
            r = _ask(s, ANCHOR_QUESTION)
            assert r.status_code == 503 and "Milvus" in r.json()["detail"], r.text
            assert time.monotonic() - t < 15
        r = httpx.post(b.url + "/api/documents", json={"doc_id": "x", "text": "Zinc and rye."}, headers=AUTH, timeout=60)
        assert r.status_code == 503, r.text

        milvus_server.start()  # same data, same port; the replicas keep running
        for s in servers:
            deadline = time.monotonic() + 30
            while (r := _ask(s, ANCHOR_QUESTION)).status_code != 200:
                assert r.status_code == 503 and time.monotonic() < deadline, r.text
                time.sleep(0.5)
            assert r.json()["short_answer"] == "December 2023"
            assert httpx.get(s.url + "/api/documents/ferrowick", timeout=30).status_code == 200
            assert httpx.get(s.url + "/api/documents/brackmoor", timeout=30).status_code == 404
            assert httpx.get(s.url + "/api/documents/x", timeout=30).status_code == 404  # refused, never half-made
        r = _ask(b, "How many tonnes of rye did the Ferrowick mill grind?").json()
        assert r["short_answer"] == "730 tonnes" or "730" in (r["short_answer"] or ""), r
    finally:
        for s in servers:
            s.stop()

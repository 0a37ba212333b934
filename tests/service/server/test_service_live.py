"""`citeqa serve` as a real process: start-up errors, readiness, and 32 concurrent clients."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from service.config import REPO_ROOT
from svc_helpers import ANCHOR_QUESTION, AUTH, citeqa_bin, free_port, server_env

pytestmark = pytest.mark.slow


def run_serve(tmp_path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([citeqa_bin(), "serve", "--port", str(free_port()), *args], cwd=tmp_path,
                          env=env or server_env(), capture_output=True, text=True, timeout=120)


def assert_clean_failure(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("citeqa: error:")]
    assert len(errors) == 1 and needle in errors[0], proc.stderr


def test_serve_without_an_index_exits_with_one_line(tmp_path):
    proc = run_serve(tmp_path, "--index-dir", str(tmp_path / "missing"))
    assert_clean_failure(proc, "no index in")
    assert proc.stderr.strip().count("\n") == 0  # exactly one line, before anything is loaded


def test_serve_with_a_corrupt_index_exits_with_one_line(tmp_path):
    d = tmp_path / "index"
    d.mkdir()
    (d / "citeqa.sqlite3").write_bytes(b"this is not a database" * 200)
    assert_clean_failure(run_serve(tmp_path, "--index-dir", str(d)), "corrupt")


def test_serve_failing_to_load_in_the_background_exits_cleanly(tmp_path, seed_index_dir):
    """Problems found by the loader thread (here: no model) stop the server with a clean message."""
    proc = run_serve(tmp_path, "--index-dir", str(seed_index_dir), env=server_env(CITEQA_MODEL_PATH=str(tmp_path / "no-model")))
    assert_clean_failure(proc, "cannot load the embedding model")


def test_live_server_basics(live_server):
    base = live_server.url
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    assert httpx.get(base + "/readyz").json()["status"] == "ready"
    assert "citeqa" in httpx.get(base + "/").text
    assert httpx.get(base + "/openapi.json").json()["info"]["title"] == "citeqa"
    assert httpx.post(base + "/api/documents", json={"text": "x"}).status_code == 401  # a key is configured
    r = httpx.post(base + "/api/ask", content=b"x" * 1_500_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "http_requests_total" in httpx.get(base + "/metrics").text


def test_32_concurrent_clients_get_correct_answers(live_server):
    questions = [json.loads(line) for line in (REPO_ROOT / "eval" / "questions.jsonl").open()]
    # the questions the server (the shipped readers, the second stage's gate included) answers correctly
    # one at a time
    expected = {}
    with httpx.Client(base_url=live_server.url, timeout=120) as c:
        for q in questions:
            if not q["answerable"]:
                continue
            res = c.post("/api/ask", json={"question": q["question"]}).json()
            if not res["abstained"] and any(a.lower() in res["answer"].lower() for a in q["answers"]):
                expected[q["question"]] = res
            if len(expected) == 16:
                break
    assert len(expected) >= 8
    jobs = [list(expected)[i % len(expected)] for i in range(32)]

    def ask(question: str):
        with httpx.Client(base_url=live_server.url, timeout=120) as c:
            return question, c.post("/api/ask", json={"question": question})

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(ask, jobs))
    assert len(results) == 32
    for question, r in results:
        assert r.status_code == 200, r.text
        data = r.json()
        want = expected[question]
        assert data["answer"] == want["answer"] and data["short_answer"] == want["short_answer"]
        assert [c["quote"] for c in data["citations"]] == [c["quote"] for c in want["citations"]]
    # concurrent writes are serialized and leave a consistent index
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda i: httpx.post(live_server.url + "/api/documents", headers=AUTH, timeout=120, json={
            "doc_id": f"parallel-{i % 2}", "text": f"Parallel write number {i} landed on the pier at dawn."}).status_code,
            range(6)))
    assert sorted(codes).count(201) == 2 and sorted(codes).count(200) == 4
    ids = {d["doc_id"] for d in httpx.get(live_server.url + "/api/documents").json()}
    assert {"parallel-0", "parallel-1"} <= ids
    for i in range(2):
        assert httpx.delete(f"{live_server.url}/api/documents/parallel-{i}", headers=AUTH).status_code == 200


def test_serve_ingest_builds_the_index_and_is_live_before_ready(tmp_path):
    """`citeqa serve --ingest` on an empty folder: /healthz answers while the index is being built
    (/readyz 503), then /readyz turns 200 with the articles of the seeds folder."""
    from svc_helpers import LiveServer

    seeds = tmp_path / "seeds"  # one seed article keeps this quick
    seeds.mkdir()
    shutil.copy(REPO_ROOT / "seeds" / "001_12c9ecdcf328fd1a.txt", seeds)
    server = LiveServer(tmp_path / "fresh-index", tmp_path, api_key=None, extra_args=["--ingest"],
                        extra_env={"CITEQA_SEEDS_DIR": str(seeds)})
    try:
        saw_live_not_ready = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.proc.poll() is None, server.log.read_text()
            try:
                health = httpx.get(server.url + "/healthz", timeout=2)
                ready = httpx.get(server.url + "/readyz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            assert health.status_code == 200
            if ready.status_code == 503:
                saw_live_not_ready = True
                assert ready.json()["detail"] == "loading"
            elif ready.status_code == 200:
                break
            time.sleep(0.1)
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "documents": 1}, server.log.read_text()
        assert saw_live_not_ready
        r = httpx.post(server.url + "/api/ask", json={"question": ANCHOR_QUESTION}, timeout=60)
        assert "December 2023" in r.json()["answer"]
        assert (tmp_path / "fresh-index" / "citeqa.sqlite3").exists()
    finally:
        server.stop()

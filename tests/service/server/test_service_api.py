"""The read API over the real seed index: every endpoint (bad input: test_service_bad_input.py)."""
from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from svc_helpers import ANCHOR_QUESTION, keyed
from service.server.app import create_app
from service.config import Settings

ANCHOR_DOC = "001_12c9ecdcf328fd1a"
MARKER = re.compile(r"\[(\d+)\]")


def check_citations(client, data: dict) -> None:
    """Every [n] has exactly one citation; n = 1, 2, ... in order of first appearance; quote is the
    document's text[start:end]."""
    markers = [int(m) for m in MARKER.findall(data["answer"])]
    first_seen = list(dict.fromkeys(markers))
    assert first_seen == list(range(1, len(first_seen) + 1)), data["answer"]
    ns = [c["n"] for c in data["citations"]]
    assert sorted(ns) == sorted(set(ns)), "duplicate citation numbers"
    assert set(ns) == set(first_seen), (ns, first_seen)
    for c in data["citations"]:
        doc = client.get(f"/api/documents/{c['doc_id']}").json()
        assert doc["text"][c["start"]:c["end"]] == c["quote"]
        assert c["title"] == doc["title"] and c["date"] == doc["date"]


# ---- health ----------------------------------------------------------------------------------
def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready", "documents": 5}


def test_not_ready_until_loaded(tmp_path):
    """Without a loaded engine (lifespan not run yet) the process is alive but not ready, and the API
    says so with a 503 instead of failing."""
    app = create_app(Settings(index_dir=tmp_path / "none", api_key=None, allowed_hosts=["testserver"]))
    c = TestClient(app)  # no `with`: the lifespan (and loading) does not start
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["detail"] == "loading"
    r = c.post("/api/ask", json={"question": "anything?"})
    assert r.status_code == 503 and "loading" in r.json()["detail"]
    assert c.get("/api/documents").status_code == 503


def test_failed_load_is_reported_not_raised(tmp_path):
    """A missing index found by the lifespan's loader: /readyz stays 503 with the reason."""
    failures = []
    app = create_app(Settings(index_dir=tmp_path / "missing", api_key=None, allowed_hosts=["testserver"]),
                     on_load_failure=failures.append)
    with TestClient(app) as c:
        for _ in range(400):
            if failures:
                break
            import time

            time.sleep(0.05)
        assert failures and "no index" in failures[0]
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["detail"].startswith("the index failed to load: no index")
        assert c.get("/healthz").status_code == 200


# ---- ask -------------------------------------------------------------------------------------
def test_ask_anchor_question(client):
    r = client.post("/api/ask", json={"question": ANCHOR_QUESTION})
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == {"question", "standalone_question", "answer", "short_answer", "short_answer_span", "abstained",
                         "answerer", "model", "claims", "fallback", "confidence",
                         "citations", "passages", "timings_ms", "closest", "abstain_reason"}
    assert not data["abstained"]
    assert "December 2023" in data["answer"] and "December 2023" in data["short_answer"]
    assert "[1]" in data["answer"]
    span = data["short_answer_span"]
    assert set(span) == {"n", "doc_id", "start", "end"} and span["n"] == 1 and span["doc_id"] == ANCHOR_DOC
    c1 = data["citations"][0]
    assert c1["n"] == 1 and c1["doc_id"] == ANCHOR_DOC and "December 2023" in c1["quote"]
    assert set(c1) == {"n", "doc_id", "title", "date", "chunk_id", "quote", "start", "end", "score", "page"}
    assert set(data["passages"][0]) == {"doc_id", "chunk_id", "title", "date", "text", "start", "end", "score", "page"}
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total", "stages"}
    stages = data["timings_ms"]["stages"]
    assert set(stages) == {"resolve", "embed", "search", "rerank", "read", "respond"}
    assert all(v >= 0 for v in stages.values())
    assert sum(stages.values()) <= data["timings_ms"]["total"] + 1  # the stages partition the ask
    assert 0 <= data["confidence"] <= 1
    check_citations(client, data)


def test_ask_citation_invariants_over_eval_questions(client):
    from service.config import REPO_ROOT

    questions = [json.loads(line)["question"] for line in (REPO_ROOT / "eval" / "questions.jsonl").open()][:40]
    answered = 0
    for q in questions:
        r = client.post("/api/ask", json={"question": q, "top_k": 5})
        assert r.status_code == 200, (q, r.text)
        data = r.json()
        check_citations(client, data)
        if data["abstained"]:
            assert data["citations"] == [] and data["answer"] == "The articles do not say."
        else:
            answered += 1
            assert data["citations"], q
    assert answered >= 20


def test_ask_abstains_on_unanswerable(client):
    data = client.post("/api/ask", json={"question": "What is the population of Mars?"}).json()
    assert data["abstained"] is True
    assert data["answer"] == "The articles do not say." and data["citations"] == []
    assert data["passages"], "an abstention still offers the closest passages"


def test_ask_top_k_and_filters(client):
    data = client.post("/api/ask", json={"question": ANCHOR_QUESTION, "top_k": 2}).json()
    assert len(data["passages"]) <= 2
    data = client.post("/api/ask", json={"question": ANCHOR_QUESTION,
                                         "filters": {"doc_ids": [ANCHOR_DOC]}}).json()
    assert data["passages"] and {p["doc_id"] for p in data["passages"]} == {ANCHOR_DOC}
    data = client.post("/api/ask", json={"question": ANCHOR_QUESTION,
                                         "filters": {"date_from": "2024-01-01", "date_to": "2024-12-31"}}).json()
    assert all(p["date"] and "2024-01-01" <= p["date"] <= "2024-12-31" for p in data["passages"])


def test_unknown_filter_doc_id_is_an_empty_result(client):
    r = client.post("/api/ask", json={"question": ANCHOR_QUESTION, "filters": {"doc_ids": ["no-such-doc"]}})
    assert r.status_code == 200
    assert r.json()["passages"] == [] and r.json()["citations"] == [] and r.json()["abstained"]
    r = client.post("/api/search", json={"query": "missile", "filters": {"doc_ids": ["no-such-doc"]}})
    assert r.status_code == 200 and r.json() == {"results": []}


# ---- search ----------------------------------------------------------------------------------
def test_search(client):
    r = client.post("/api/search", json={"query": "real-time missile warning data", "top_k": 3})
    assert r.status_code == 200
    results = r.json()["results"]
    assert 1 <= len(results) <= 3
    assert results[0]["doc_id"] == ANCHOR_DOC
    doc = client.get(f"/api/documents/{results[0]['doc_id']}").json()
    assert doc["text"][results[0]["start"]:results[0]["end"]] == results[0]["text"]


# ---- documents (reads) -----------------------------------------------------------------------
def test_documents(client):
    docs = client.get("/api/documents").json()
    assert len(docs) == 5
    assert all(set(d) == {"doc_id", "title", "date", "chunks", "sha256"} for d in docs)
    r = client.get(f"/api/documents/{ANCHOR_DOC}")
    assert r.status_code == 200
    d = r.json()
    assert set(d) == {"doc_id", "title", "date", "chunks", "sha256", "text"}
    assert "December 2023" in d["text"]


def test_unknown_document_is_404_json(client):
    r = client.get("/api/documents/does-not-exist")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": "no document 'does-not-exist'"}


# ---- ops ----------------------------------------------------------------------------------------
def test_metrics(client):
    client.post("/api/ask", json={"question": ANCHOR_QUESTION})
    client.get("/api/documents/does-not-exist")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert re.search(r'http_requests_total\{method="POST",route="/api/ask",status="200"\} [1-9]', text)
    assert 'http_requests_total{method="GET",route="/api/documents/{doc_id}",status="404"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.5",method="POST",route="/api/ask"}' in text
    assert "citeqa_index_documents 5.0" in text and "citeqa_ready 1.0" in text
    assert "does-not-exist" not in text  # labels are route templates, not raw paths


def test_openapi_documents_models_and_errors(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    ask = paths["/api/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskResponse")
    assert {"400", "413", "422", "503"} <= set(ask["responses"])
    assert paths["/api/search"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] \
        .endswith("/SearchResponse")
    assert "404" in paths["/api/documents/{doc_id}"]["get"]["responses"]
    post_doc = paths["/api/documents"]["post"]
    assert {"200", "201", "401", "403", "413", "415", "422"} <= set(post_doc["responses"])
    assert {"application/json", "multipart/form-data"} <= set(post_doc["requestBody"]["content"])
    assert post_doc["security"] and {"401", "403", "404"} <= set(paths["/api/documents/{doc_id}"]["delete"]["responses"])
    for path, ops in paths.items():
        for method, op in ops.items():
            assert "200" in op["responses"] or "201" in op["responses"], (method, path)
    assert client.get("/docs").status_code == 200


def test_chat_page_is_served_with_a_strict_csp(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    assert "/static/app.js" in html and "/static/style.css" in html
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text and "eval(" not in js.text
    assert client.get("/static/style.css").status_code == 200


def test_a_store_damaged_while_served_is_a_503_that_names_the_repair(writable_engine, index_copy):
    """quick_check passed when the store opened; pages broken afterwards (a failing disk) make every
    read fail: the operator's problem to fix, said as such, not a bare 500."""
    import sqlite3

    import numpy as np

    from index.stores.sqlite.index import DB_NAME

    db = index_copy / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name='sentences' ORDER BY pageno")]
    conn.close()
    with open(db, "r+b") as fh:
        for p in pages[1:]:
            fh.seek((p - 1) * page_size)
            fh.write(np.random.default_rng(p).integers(0, 256, page_size, dtype=np.uint8).tobytes())
    writable_engine.index.store.close()  # the next read opens a new connection, as a new thread does
    app = create_app(keyed(writable_engine.settings), engine=writable_engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/api/ask", json={"question": "When did real-time missile-data sharing start?"})
    assert r.status_code == 503, r.text
    assert "citeqa check --repair" in r.json()["detail"]


def test_an_abstention_says_why_and_shows_the_closest_sentence(client, seed_engine):
    """A reader that abstains on everything (threshold above 1) still shows the sentence closest to
    a question about the articles, quoted exactly, and says why it is no answer; an off-topic
    question shows none."""
    reader = seed_engine.answerer
    seed_engine.answerer = reader.with_threshold(1.01)
    try:
        data = client.post("/api/ask", json={"question": ANCHOR_QUESTION}).json()
        far = client.post("/api/ask", json={"question": "What is the population of Mars?"}).json()
    finally:
        seed_engine.answerer = reader
    assert data["abstained"] is True and data["citations"] == []
    c = data["closest"]
    assert c is not None and c["score"] >= reader.near_cosine
    doc = client.get(f"/api/documents/{c['doc_id']}").json()
    assert doc["text"][c["start"]:c["end"]] == c["quote"]
    assert "no answer" in data["abstain_reason"] and f"{c['score']:.2f}" in data["abstain_reason"]
    assert far["abstained"] is True and far["closest"] is None and far["abstain_reason"] is None


def test_closest_sentence_is_the_best_cosine_over_every_passage():
    import numpy as np

    from index.stores.base import SentenceRow
    from service.answerers.reader.answerer import closest_sentence
    from service.pipeline.retrieval import Hit

    def sent(v, start):
        return SentenceRow("d", start, start + 5, np.array(v, dtype=np.float32), frozenset())

    hits = [Hit(1, None, 1.0, 0, sentences=[sent([1, 0], 0), sent([0.6, 0.8], 10)]),
            Hit(2, None, 0.5, 1, sentences=[sent([0, 1], 20)])]
    cos, i, s = closest_sentence(np.array([0.0, 1.0], dtype=np.float32), hits)
    assert (i, s.start) == (1, 20) and cos == 1.0
    assert closest_sentence(None, hits) is None and closest_sentence(np.array([1.0, 0.0]), []) is None

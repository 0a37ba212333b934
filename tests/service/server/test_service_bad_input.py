"""Bad input to the read API over the real seed index: a clear 4xx (or a bare JSON 500 for a bug),
never a stack trace, and the connection stays usable."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from svc_helpers import keyed
from service.server.app import create_app


# ---- bad input -------------------------------------------------------------------------------
BAD_BODIES = [
    ("empty question", {"question": ""}, 422),
    ("whitespace question", {"question": " \t\n "}, 422),
    ("question too long", {"question": "x" * 2001}, 422),
    ("top_k 0", {"question": "q?", "top_k": 0}, 422),
    ("top_k 21", {"question": "q?", "top_k": 21}, 422),
    ("top_k negative", {"question": "q?", "top_k": -3}, 422),
    ("top_k float", {"question": "q?", "top_k": 2.5}, 422),
    ("top_k string", {"question": "q?", "top_k": "five"}, 422),
    ("question number", {"question": 42}, 422),
    ("question list", {"question": ["a"]}, 422),
    ("question null", {"question": None}, 422),
    ("missing question", {"top_k": 3}, 422),
    ("extra field", {"question": "q?", "debug": True}, 422),
    ("filters not an object", {"question": "q?", "filters": "x"}, 422),
    ("filters extra field", {"question": "q?", "filters": {"author": "x"}}, 422),
    ("bad date", {"question": "q?", "filters": {"date_from": "2024-13-45"}}, 422),
    ("doc_ids not a list", {"question": "q?", "filters": {"doc_ids": "abc"}}, 422),
    ("body is a list", ["question"], 422),
    ("body is null", None, 422),
]


@pytest.mark.parametrize("name,body,status", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_ask_bodies(client, name, body, status):
    r = client.post("/api/ask", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert detail and all({"loc", "msg", "type"} <= set(e) for e in detail)
    assert "Traceback" not in r.text


def test_question_of_2000_chars_is_fine(client):
    r = client.post("/api/ask", json={"question": ("missile data sharing " * 100)[:2000]})
    assert r.status_code == 200


@pytest.mark.parametrize("path,key", [("/api/ask", "question"), ("/api/search", "query")])
def test_bad_raw_bodies(client, path, key):
    def post(content: bytes, ctype: str = "application/json"):
        return client.post(path, content=content, headers={"content-type": ctype})

    r = post(b'{"' + key.encode() + b'": "unterminated')
    assert r.status_code == 422 and "JSON decode error" in r.json()["detail"][0]["msg"]
    r = post(b"")
    assert r.status_code == 422
    r = post(b'{"' + key.encode() + b'": "caf\xe9"}')  # Latin-1 byte, not UTF-8
    assert r.status_code == 400 and r.json() == {"detail": "the request body is not valid UTF-8"}
    r = post(b'{"' + key.encode() + b'": "\\ud800 lone surrogate"}')
    assert r.status_code == 422
    r = post(b'{"' + key.encode() + b'": "a"}', ctype="text/plain")
    assert r.status_code == 422
    r = post(b"--x\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary=x")
    assert r.status_code == 422


def test_odd_but_valid_questions_are_answered(client):
    for q in ['"', "*", "AND OR NOT", "NEAR(a b)", "missile\x00data", "🚀 missile?", "ünïcödé — “quotes”",
              "a" * 2000, "SELECT * FROM documents; --", "<script>alert(1)</script>", "\u202e\u200b?"]:
        r = client.post("/api/ask", json={"question": q})
        assert r.status_code == 200, (q, r.text)
        r = client.post("/api/search", json={"query": q})
        assert r.status_code == 200, (q, r.text)


def test_body_over_1mb_is_413(client):
    big = json.dumps({"question": "x" * 1_000_001}).encode()
    r = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_streamed_body_over_1mb_is_413_without_content_length(client):
    """A chunked body has no Content-Length; the middleware counts the bytes as they arrive."""
    def chunks():
        yield b'{"question": "'
        for _ in range(12):
            yield b"x" * 100_000
        yield b'"}'

    r = client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("content-length") is None
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_lying_content_length_is_caught(client):
    """A small declared length with a larger stream is still cut off at the limit."""
    from service.server.middleware.security import BodySizeLimit

    import asyncio

    sent = []

    async def app(scope, receive, send):
        while True:
            msg = await receive()
            if not msg.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [{"type": "http.request", "body": b"x" * 600, "more_body": True},
              {"type": "http.request", "body": b"x" * 600, "more_body": False}]

    async def receive():
        return chunks.pop(0)

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodySizeLimit(app, max_bytes=1000)(scope, receive, send))
    assert sent[0]["status"] == 413


def test_wrong_method_and_unknown_path_are_json(client):
    r = client.get("/api/ask")
    assert r.status_code == 405 and r.json()["detail"]
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["detail"]


def test_unexpected_errors_are_a_bare_json_500(seed_settings, caplog):
    class Broken:
        def ask(self, *a, **kw):
            raise RuntimeError("secret internal state /etc/passwd")

    app = create_app(keyed(seed_settings), engine=Broken())
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/api/ask", json={"question": "boom?"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error"}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any("unhandled error" in rec.getMessage() for rec in caplog.records)


def test_errors_keep_the_connection_alive(seed_settings):
    """A 500 (and any 4xx) is answered on a kept-alive connection that stays usable: uvicorn used to
    drop the connection after every exception that reached Starlette's outermost handler."""
    import http.client
    import threading
    import time

    import uvicorn

    from svc_helpers import AUTH, free_port

    class Broken:
        def ask(self, *a, **kw):
            raise RuntimeError("boom")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(keyed(seed_settings), engine=Broken()), host="127.0.0.1",
                                           port=port, log_level="critical", lifespan="on", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        json_h = {"Content-Type": "application/json"}
        requests = [("POST", "/api/ask", b'{"question": "boom?"}', json_h, 500),
                    ("POST", "/api/documents", b"[" * 50_000, {**json_h, **AUTH}, 400),
                    ("POST", "/api/ask", b'{"question": ', json_h, 422),
                    ("GET", "/api/nothing", None, {}, 404),
                    ("POST", "/api/ask", b'{"question": "boom again?"}', json_h, 500),
                    ("GET", "/healthz", None, {}, 200)]
        sock = None
        for method, path, body, headers, status in requests:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            assert r.status == status and json.loads(r.read())["detail" if status != 200 else "status"]
            assert not r.will_close, (path, status)
            assert sock is None or conn.sock is sock, f"the connection was dropped after {path} ({status})"
            sock = conn.sock
        conn.close()
    finally:
        server.should_exit = True
        thread.join(10)

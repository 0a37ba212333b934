"""A misbehaving LLM (a real tiny HTTP server on 127.0.0.1): trickling, stalling, replying in the
wrong shape, or slow for many asks at once. Each call ends by its deadline, the number in flight
is bounded, and every non-protocol reply falls back like any other LLM failure."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from service.server.app import create_app
from service.engine import Engine
from service.answerers.llm.client import LLMClient, LLMError
from svc_helpers import keyed

QUESTION = "When did real-time missile-data sharing start?"
GOOD = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "NOT IN THE ARTICLES"}}]}


class BadLLM:
    """mode: "trickle" (a byte every `gap` s, at most `bytes` of them), "stall" (headers, then
    nothing for `gap` s), "list" (content is a list), "missing" (no choices), "json200" (a plain
    JSON body to a streamed request), "good"."""

    def __init__(self):
        self.mode, self.gap, self.bytes = "good", 0.5, 200
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                owner.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stream = body.get("stream")
                mode = owner.mode
                if mode == "list":
                    reply = {"choices": [{"message": {"content": [{"type": "text", "text": "x"}]}}]}
                elif mode == "missing":
                    reply = {"id": "x", "object": "chat.completion"}
                else:
                    reply = GOOD
                if stream and mode not in ("json200", "trickle", "stall"):
                    data = "".join(f"data: {json.dumps({'choices': [{'delta': c['message']}]})}\n\n"
                                   for c in reply.get("choices", [{}]) if "message" in c)
                    data = (data or "data: {}\n\n") + "data: [DONE]\n\n"
                    ctype = "text/event-stream"
                else:
                    data, ctype = json.dumps(reply), "application/json"
                raw = data.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)) if mode != "trickle" else str(owner.bytes))
                self.end_headers()
                try:
                    if mode == "trickle":
                        for _ in range(owner.bytes):  # bounded: the test never waits for all of it
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(owner.gap)
                    elif mode == "stall":
                        time.sleep(owner.gap)
                    else:
                        self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def bad():
    with BadLLM() as server:
        yield server


def timed(fn):
    t0 = time.monotonic()
    try:
        fn()
    except LLMError as exc:
        return exc, time.monotonic() - t0
    return None, time.monotonic() - t0


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", ["trickle", "stall"])
def test_a_trickling_or_stalled_llm_call_ends_by_its_deadline(bad, mode, stream):
    bad.mode, bad.gap = mode, (0.3 if mode == "trickle" else 20)
    client = LLMClient(bad.url, "m", timeout=1.5, retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    exc, took = timed(lambda: list(client.stream(msgs)) if stream else client.chat(msgs))
    client.close()
    assert exc is not None and exc.status == 504 and ("1.5 s" in str(exc) or "in time" in str(exc)), exc
    assert took < 3 * 1.5, took  # httpx alone: 0.3 s a byte keeps a per-read timeout happy for 60 s


@pytest.mark.parametrize("mode,stream", [("list", False), ("list", True), ("missing", False), ("missing", True),
                                         ("json200", True)])
def test_replies_that_are_not_the_protocol_are_llm_errors(bad, mode, stream):
    bad.mode = mode
    client = LLMClient(bad.url, "m", timeout=5, retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    exc, _ = timed(lambda: list(client.stream(msgs)) if stream else client.chat(msgs))
    client.close()
    assert exc is not None and exc.status == 502, exc
    bad.mode = "good"
    client = LLMClient(bad.url, "m", timeout=5, retries=0)
    assert client.chat(msgs) == "NOT IN THE ARTICLES" and list(client.stream(msgs)) == ["NOT IN THE ARTICLES"]
    client.close()


def test_calls_in_flight_are_bounded_and_the_next_is_busy_at_once(bad):
    bad.mode, bad.gap = "stall", 3
    client = LLMClient(bad.url, "m", timeout=2, retries=0, max_in_flight=1, busy_wait_s=0.2)
    msgs = [{"role": "user", "content": "hi"}]
    first = threading.Thread(target=lambda: timed(lambda: client.chat(msgs)))
    first.start()
    time.sleep(0.3)
    exc, took = timed(lambda: client.chat(msgs))
    assert exc is not None and exc.status == 503 and "CITEQA_LLM_MAX_IN_FLIGHT" in str(exc) and took < 1.0
    first.join(10)
    bad.mode = "good"
    assert client.chat(msgs) == "NOT IN THE ARTICLES"  # the slot came back
    client.close()


@pytest.fixture(scope="module")
def app_client(bad, seed_settings, embedder):
    settings = keyed(seed_settings).model_copy(update={"llm_url": bad.url, "llm_model": "bad", "answerer": "llm",
                                                       "llm_timeout_s": 1.0, "llm_max_in_flight": 2})
    engine = Engine.load(settings, embedder=embedder)
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c
    engine.close()


@pytest.mark.parametrize("mode,stream", [("list", False), ("list", True), ("missing", False), ("missing", True),
                                         ("json200", True), ("trickle", False), ("trickle", True)])
def test_through_the_api_every_llm_failure_falls_back_to_the_reader(app_client, bad, mode, stream):
    bad.mode, bad.gap = mode, 0.3
    t0 = time.monotonic()
    if stream:
        with app_client.stream("POST", "/api/ask", json={"question": QUESTION, "stream": True}) as r:
            body = "".join(r.iter_text())
        assert r.status_code == 200 and "event: error" not in body, body[-300:]
        final = json.loads(body.split("event: final\ndata: ", 1)[1].split("\n", 1)[0])
    else:
        r = app_client.post("/api/ask", json={"question": QUESTION})
        assert r.status_code == 200, r.text
        final = r.json()
    assert time.monotonic() - t0 < 3 * 1.0 + 2.0  # the LLM's deadline, then the reader
    assert final["fallback"] is True and final["answerer"] == "reader" and not final["abstained"], final
    assert "December 2023" in final["answer"]


def test_many_asks_against_a_stuck_llm_fall_back_and_healthz_keeps_answering(app_client, bad):
    bad.mode, bad.gap = "stall", 5
    results: list[tuple[int, bool]] = []

    def one():
        r = app_client.post("/api/ask", json={"question": QUESTION})
        results.append((r.status_code, r.json().get("fallback")))

    threads = [threading.Thread(target=one) for _ in range(16)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    health = []
    while any(t.is_alive() for t in threads) and time.monotonic() - t0 < 30:
        s = time.monotonic()
        health.append((app_client.get("/healthz").status_code, time.monotonic() - s))
        time.sleep(0.1)
    for t in threads:
        t.join(30)
    took = time.monotonic() - t0
    assert len(results) == 16 and all(code == 200 and fb for code, fb in results), results
    assert all(code == 200 for code, _ in health) and max(s for _, s in health) < 2.0, health
    assert took < 20, took
    bad.mode = "good"

"""A small client for OpenAI-compatible `/v1/chat/completions` (Ollama, vLLM, llama.cpp's server,
OpenAI): one request, or its streamed tokens. httpx rather than the `openai` package: it is already
a dependency and these two calls are all citeqa needs. 429 and 5xx are retried with backoff; what
still fails is an LLMError carrying the status the API answers (502, 503 busy, or 504 for a timeout).

Bounded, whatever the server does:
- `timeout` is a total deadline per call (connect, retries and the whole reply, streamed or not),
  checked between the pieces the server sends; one read never waits longer than what was left of
  it when the request went out, so a call ends within 2x `timeout` even against a server that
  trickles a byte a second or stalls mid-reply (httpx's own timeout is per read: 40 s and more);
- at most `max_in_flight` calls at once; a call that finds them all taken for `busy_wait_s` is an
  LLMError(503), so asks fall back to the embedded reader instead of queueing on a stuck LLM;
- a reply that is not the protocol (content that is not a string, missing fields, a 200 body that
  is not Server-Sent Events when streaming) is an LLMError(502) like any other failure.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import httpx

log = logging.getLogger(__name__)
MAX_REPLY_BYTES = 2_000_000  # a chat reply of max_tokens is a few KB; more is not an answer


class LLMError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _content(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LLMError(502, f"the LLM's reply content is a {type(value).__name__}, not text")
    return value


class LLMClient:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 max_tokens: int = 300, temperature: float = 0.0, retries: int = 2, backoff: float = 0.5,
                 max_in_flight: int = 4, busy_wait_s: float = 1.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.busy_wait_s = busy_wait_s
        self._slots = threading.BoundedSemaphore(max_in_flight)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers)

    def _body(self, messages: list[dict], stream: bool, response_format: dict | None) -> dict:
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "stream": stream}
        if response_format:
            body["response_format"] = response_format
        return body

    def _late(self) -> LLMError:
        return LLMError(504, f"the LLM at {self.url} did not answer within {self.timeout:g} s (CITEQA_LLM_TIMEOUT_S)")

    def _acquire(self) -> None:
        if not self._slots.acquire(timeout=self.busy_wait_s):
            raise LLMError(503, f"the LLM is busy: {self.max_in_flight} calls are in flight (CITEQA_LLM_MAX_IN_FLIGHT)")

    def _send(self, body: dict, deadline: float):
        """The open response, after retries of 429/5xx and connection errors, by the deadline."""
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), max(0.0, deadline - time.monotonic())))
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._late()
            try:
                req = self._http.build_request("POST", self.url, json=body,
                                               timeout=httpx.Timeout(left, connect=min(left, 10.0)))
                resp = self._http.send(req, stream=True)
            except httpx.TimeoutException as exc:
                raise LLMError(504, f"the LLM at {self.url} did not answer in time ({exc.__class__.__name__})") from exc
            except httpx.HTTPError as exc:
                last = f"cannot reach the LLM at {self.url}: {exc}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"the LLM answered HTTP {resp.status_code}"
                resp.close()
                continue
            if resp.status_code >= 400:
                try:
                    text = b"".join(self._pieces(resp, deadline, 4096)).decode("utf-8", "replace")[:300]
                finally:
                    resp.close()
                raise LLMError(502, f"the LLM refused the request (HTTP {resp.status_code}): {text}")
            return resp
        raise LLMError(502, last)

    def _pieces(self, resp: httpx.Response, deadline: float, limit: int = MAX_REPLY_BYTES) -> Iterator[bytes]:
        """The body's bytes as they come, until the deadline or `limit` bytes."""
        got = 0
        try:
            for piece in resp.iter_raw():
                got += len(piece)
                if got > limit:
                    raise LLMError(502, f"the LLM's reply is over {limit} bytes")
                yield piece
                if time.monotonic() > deadline:
                    raise self._late()
        except httpx.TimeoutException as exc:
            raise self._late() from exc
        except httpx.HTTPError as exc:
            raise LLMError(502, f"the LLM's reply broke off: {exc}") from exc

    def chat(self, messages: list[dict], response_format: dict | None = None) -> str:
        deadline = time.monotonic() + self.timeout
        self._acquire()
        try:
            resp = self._send(self._body(messages, False, response_format), deadline)
            try:
                raw = b"".join(self._pieces(resp, deadline))
            finally:
                resp.close()
            try:
                return _content(json.loads(raw)["choices"][0]["message"]["content"])
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise LLMError(502, "the LLM's reply is not an OpenAI chat completion") from exc
        finally:
            self._slots.release()

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The reply's text pieces as the server sends them (its SSE `data:` lines)."""
        deadline = time.monotonic() + self.timeout
        self._acquire()
        try:
            resp = self._send(self._body(messages, True, None), deadline)
            try:
                chunks = 0
                for line in _lines(self._pieces(resp, deadline)):
                    if not line.startswith("data:"):
                        if line.strip() and not line.startswith((":", "event:", "id:", "retry:")):
                            raise LLMError(502, "the LLM's stream is not Server-Sent Events")
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        choices = json.loads(data)["choices"]
                        delta = (choices[0].get("delta") or {}) if choices else {}
                        text = _content(delta.get("content"))
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                        raise LLMError(502, "the LLM's stream is not OpenAI chat-completion chunks") from exc
                    chunks += 1
                    if text:
                        yield text
                if not chunks:
                    raise LLMError(502, "the LLM's stream ended without a chat-completion chunk")
            finally:
                resp.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        self._http.close()


def _lines(pieces: Iterator[bytes]) -> Iterator[str]:
    buf = b""
    for piece in pieces:
        buf += piece
        *done, buf = buf.split(b"\n")
        for line in done:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if buf:
        yield buf.decode("utf-8", "replace")

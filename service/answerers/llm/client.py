"""A small client for OpenAI-compatible `/v1/chat/completions` (Ollama, vLLM, llama.cpp's server,
OpenAI): one request, or its streamed tokens. httpx rather than the `openai` package: it is already
a dependency and these two calls are all citeqa needs. 429 and 5xx are retried with backoff; what
still fails is an LLMError carrying the status the API answers (502, or 504 for a timeout)."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx

log = logging.getLogger(__name__)


class LLMError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class LLMClient:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 max_tokens: int = 300, temperature: float = 0.0, retries: int = 2, backoff: float = 0.5):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retries = retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers)

    def _body(self, messages: list[dict], stream: bool, response_format: dict | None) -> dict:
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "stream": stream}
        if response_format:
            body["response_format"] = response_format
        return body

    def _send(self, body: dict, stream: bool):
        """The response (open, when streaming), after retries of 429/5xx and connection errors."""
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                req = self._http.build_request("POST", self.url, json=body)
                resp = self._http.send(req, stream=stream)
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
                text = resp.read().decode("utf-8", "replace")[:300]
                resp.close()
                raise LLMError(502, f"the LLM refused the request (HTTP {resp.status_code}): {text}")
            return resp
        raise LLMError(502, last)

    def chat(self, messages: list[dict], response_format: dict | None = None) -> str:
        resp = self._send(self._body(messages, False, response_format), stream=False)
        try:
            return resp.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(502, "the LLM's reply is not an OpenAI chat completion") from exc

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The reply's text pieces as the server sends them (its SSE `data:` lines)."""
        resp = self._send(self._body(messages, True, None), stream=True)
        try:
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    delta = json.loads(data)["choices"][0].get("delta") or {}
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise LLMError(502, "the LLM's stream is not OpenAI chat-completion chunks") from exc
                if delta.get("content"):
                    yield delta["content"]
        except httpx.TimeoutException as exc:
            raise LLMError(504, "the LLM stopped answering mid-stream") from exc
        finally:
            resp.close()

    def close(self) -> None:
        self._http.close()

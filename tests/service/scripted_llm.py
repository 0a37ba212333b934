"""A scripted OpenAI-compatible chat server for the LLM tests: it answers each request with the
next reply of its script (text, or an HTTP status), streamed when asked, and records the requests."""
from __future__ import annotations

import json
import re
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from svc_helpers import free_port


class ScriptedLLM:
    def __init__(self):
        self.script: list = []  # str replies, int statuses, or callables(prompt) -> reply
        self.requests: list[dict] = []
        self.chunk_delay = 0.0  # seconds between streamed chunks (a page test watches them arrive)
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            step = self.script.pop(0) if self.script else "NOT IN THE ARTICLES"
            if callable(step):  # a reply made from the prompt (its numbered sentences)
                step = step(body["messages"][-1]["content"])
            if isinstance(step, int):
                return JSONResponse({"error": {"message": "scripted failure"}}, status_code=step)
            if body.get("stream"):
                def chunks():
                    for k in range(0, len(step), 7):  # a few characters a chunk, as a model would
                        time.sleep(self.chunk_delay)
                        delta = {"choices": [{"index": 0, "delta": {"content": step[k:k + 7]}}]}
                        yield f"data: {json.dumps(delta)}\n\n"
                    yield "data: [DONE]\n\n"
                return StreamingResponse(chunks(), media_type="text/event-stream")
            return {"id": "x", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": step},
                                 "finish_reason": "stop"}]}

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self):
        self._thread.start()
        for _ in range(200):
            if self._server.started:
                return self
            time.sleep(0.02)
        raise RuntimeError("the scripted LLM did not start")

    def __exit__(self, *exc):
        self._server.should_exit = True
        self._thread.join(timeout=10)


# replies the LLM tests script: which offered sentence holds `needle`, and a reply with one true
# and one fabricated claim
def number_of(prompt: str, needle: str) -> int:
    for line in prompt.splitlines():
        m = re.match(r"\[(\d+)\] ", line)
        if m and needle in line:
            return int(m.group(1))
    raise AssertionError(f"{needle!r} is not among the offered sentences")


def true_and_fabricated(prompt: str) -> str:
    n = number_of(prompt, "December 2023")
    return (f"The three countries agreed to share real-time missile warning data from December 2023 [{n}]. "
            f"The sharing was first proposed at a 1999 summit in Paris [{n}].")

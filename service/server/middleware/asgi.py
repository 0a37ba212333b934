"""Two pieces the pure ASGI middlewares share: a JSON error written straight to `send`, and a
`send` that remembers whether the response has started (after that, only closing is honest)."""
from __future__ import annotations

import json

from starlette.types import Message, Send


async def send_json(send: Send, status: int, detail: str, close: bool = True) -> None:
    """A `{"detail": ...}` response; `close` asks the client to drop the connection (after a body
    that was not read to its end, the connection cannot be reused)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TrackedSend:
    def __init__(self, send: Send):
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

"""Who may write, and how big a request may be.

Writes (adding or deleting articles) need ``Authorization: Bearer <CITEQA_API_KEY>`` when a key is
configured. Without a key the service accepts writes only from loopback clients, so a default
``citeqa serve`` on 127.0.0.1 is usable locally and never writable from the network.
"""
from __future__ import annotations

import hmac
import ipaddress

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.server.middleware.asgi import TrackedSend, send_json


PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")


def key_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of the presented key with the configured one, as bytes: a header
    value arrives as latin-1-decoded bytes, so a client's UTF-8 "clé" matches a configured "clé"."""
    try:
        raw = given.encode("latin-1")
    except UnicodeEncodeError:  # not from a header (a caller's str): compare its UTF-8
        raw = given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(raw, expected.encode("utf-8", "surrogatepass"))


def forwarded_by_proxy(headers) -> bool:
    """True when a proxy says it forwards the request for another client."""
    return any(name in headers for name in PROXY_HEADERS)


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (also IPv4-mapped ::ffff:127.x). Anything else, including
    unparsable names such as a test client's "testclient", is not loopback."""
    if not host:
        return False
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return bool(addr.is_loopback or (mapped is not None and mapped.is_loopback))


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=f"request body too large (limit {limit} bytes)")


class BodySizeLimit:
    """Pure ASGI middleware: reject bodies over ``max_bytes`` with 413.

    Checks the declared Content-Length up front and also counts the bytes actually streamed, so a
    chunked upload or a lying Content-Length cannot get past the limit. Raising an HTTPException
    from ``receive`` lets FastAPI/Starlette answer 413 through the normal exception handlers; if it
    escapes anyway (a route that does not use them), this middleware answers itself.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_json(send, 400, "invalid Content-Length header")
                    return
        if declared is not None and declared > self.max_bytes:
            await send_json(send, 413, BodyTooLarge(self.max_bytes).detail)
            return

        received = 0
        tracked = TrackedSend(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, tracked)
        except BodyTooLarge as exc:
            if tracked.started:
                raise
            await send_json(send, 413, exc.detail)


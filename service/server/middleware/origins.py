"""Which Host names this server answers to, and which writes come from another site.

Two browser attacks reach a server on 127.0.0.1 through the user's own browser:

* a page of another origin POSTs a multipart form (a CORS "simple" request: no preflight, the
  browser sends it and only hides the answer), so the write itself happens;
* DNS rebinding: the attacker's name resolves to 127.0.0.1 after the page loaded, so its
  requests are same-origin to the browser and carry ``Host: attacker.example``.

The first is refused by reading ``Origin`` and ``Sec-Fetch-Site`` on writes (browsers send them on
every POST/DELETE; curl and the CLI send neither and are not affected), the second by refusing
any Host that is not one of this server's names.
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from service.config import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = re.compile(r"[a-z0-9_\-.]+|[0-9a-f:.]+")  # a DNS name, or an IPv6 literal (brackets gone)


def split_host(value: str) -> tuple[str, int | None] | None:
    """``"Example.COM.:8000"`` → ``("example.com", 8000)``, ``"[::1]"`` → ``("::1", None)``; None if malformed."""
    try:
        parts = urlsplit("//" + value.strip())
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    name = name.rstrip(".").lower()
    return (name, port) if _NAME.fullmatch(name) else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class HostPolicy:
    """The server's names: loopback, the configured host, CITEQA_ALLOWED_HOSTS. Bound to every
    interface (0.0.0.0 / ::), it is also reached by IP address and by this machine's name; an IP
    literal cannot be a rebinding (the browser would send the attacker's name, not an address)."""

    def __init__(self, settings: Settings):
        self.any = "*" in settings.allowed_hosts
        bind = settings.host.strip().strip("[]").rstrip(".").lower()  # a bind address has no port
        self.wildcard = bind in WILDCARD_BINDS
        listed = (split_host(h) for h in settings.allowed_hosts if h != "*")  # "name:port" is its name
        self.names = set(LOOPBACK_NAMES) | {h[0] for h in listed if h}
        if not self.wildcard:
            self.names.add(bind)
        else:
            self.names.add(socket.gethostname().lower())

    def allows(self, host_header: str) -> bool:
        parsed = split_host(host_header)
        if parsed is None:
            return False
        name = parsed[0]
        if self.any or name in self.names:
            return True
        if self.wildcard and _is_ip(name):
            return True
        try:  # every loopback address (127.0.0.0/8) is this machine
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False


class TrustedHosts:
    """Pure ASGI middleware: 400 with a JSON ``detail`` for a Host that is not one of ours.
    A request with no Host at all (HTTP/1.0) passes: browsers always send one."""

    def __init__(self, app: ASGIApp, policy: HostPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope.get("headers", []) if k == b"host"), None)
        if host is None or self.policy.allows(host.decode("latin-1")):
            await self.app(scope, receive, send)
            return
        shown = host.decode("latin-1")[:100]
        detail = (f"this server does not answer to Host {shown!r}; its names are localhost, 127.0.0.1, [::1], "
                  "its --host and CITEQA_ALLOWED_HOSTS")
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def cross_site_reason(origin: str | None, fetch_site: str | None, host: str | None) -> str | None:
    """Why a write looks cross-site, or None. ``Sec-Fetch-Site: same-site`` is refused too: another
    port of 127.0.0.1 is the same site but another origin. An ``Origin`` must name this very
    host and port (http or https: a TLS proxy in front changes the scheme, not the origin's host)."""
    site = (fetch_site or "").strip().lower()
    if site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site is {site}"
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return "the request comes from an opaque origin (Origin: null)"
    parts = urlsplit(origin.strip())
    target = split_host(host) if host else None
    try:
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        origin_port = None
    if parts.scheme in DEFAULT_PORTS and parts.hostname and target is not None:
        host_port = target[1] or DEFAULT_PORTS[parts.scheme]
        if parts.hostname.rstrip(".").lower() == target[0] and origin_port == host_port:
            return None
    return f"Origin {origin[:100]!r} is not this server's"

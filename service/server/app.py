"""The FastAPI application and `citeqa serve`.

The model and the index are loaded once, in a background thread started by the lifespan, so
``/healthz`` answers at once and ``/readyz`` turns 200 when the engine is ready. Tests pass a
ready engine to :func:`create_app` instead.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network for model files
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import logging  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import anyio.to_thread  # noqa: E402
from typing import Callable  # noqa: E402

from fastapi import FastAPI  # noqa: E402
from fastapi_offline import FastAPIOffline  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import FileResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,  # noqa: E402
                               PlatformCollector, ProcessCollector, generate_latest)
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from service.server.routes.api import metrics_router, router  # noqa: E402
from service.server.deps import ServiceState  # noqa: E402
from service.engine import Engine, EngineError  # noqa: E402
from service.server.middleware.errors import ServerErrors, http_error, server_error, validation_error  # noqa: E402
from service.server.middleware.origins import HostPolicy, TrustedHosts  # noqa: E402
from service.server.middleware.security import BodySizeLimit  # noqa: E402
from service.config import Settings  # noqa: E402

log = logging.getLogger("citeqa.service")
STATIC_DIR = Path(__file__).resolve().parent / "static"
EXIT_ERROR = 2

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


# ---- metrics -------------------------------------------------------------------------------------
class Metrics:
    """Prometheus metrics in a registry of this app's own (several apps can live in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter("http_requests_total", "HTTP requests by route template, method and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.in_progress = Gauge("http_requests_in_progress", "HTTP requests being served", ["method"],
                                 registry=self.registry)
        self.ready = Gauge("citeqa_ready", "1 once the model and the index are loaded", registry=self.registry)
        self.documents = Gauge("citeqa_index_documents", "Articles in the index", registry=self.registry)

    def render(self, state: ServiceState) -> tuple[bytes, str]:
        self.ready.set(1 if state.engine is not None else 0)
        if state.engine is not None:
            self.documents.set(state.engine.index.store.counts()["documents"])
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts requests and times them per route *template* (/api/documents/{doc_id}), never per raw
    path, so the label set stays bounded."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_progress.labels(method).inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.in_progress.labels(method).dec()
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


class SecurityHeaders:
    """nosniff everywhere; a strict Content-Security-Policy on the chat page and its files (no inline
    script, no third-party origins), as a second line behind the page's text-only rendering."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope["path"] == "/" or scope["path"].startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if page:
                    headers.append((b"content-security-policy", CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


# ---- the app -------------------------------------------------------------------------------------
def _load_engine(state: ServiceState, ingest_first: bool, on_failure: Callable[[str], None]) -> None:
    t0 = time.perf_counter()
    try:
        engine = Engine.load(state.settings, ingest_if_needed=ingest_first)
        engine.embed("warm up")  # the first forward pass is slow; pay it before reporting ready
    except EngineError as exc:
        state.load_error = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure must end in a clean message, not a hung server
        log.debug("engine load failed", exc_info=True)
        state.load_error = f"{type(exc).__name__}: {exc}"
    else:
        state.engine = engine
        state.ready.set()
        n = engine.index.store.counts()["documents"]
        logging.getLogger("uvicorn.error").info("citeqa ready: %d documents from %s, loaded in %.1f s", n,
                                                state.settings.index_dir, time.perf_counter() - t0)
        return
    on_failure(state.load_error)


def _log_load_failure(message: str) -> None:
    log.error("citeqa cannot serve: %s", message)


def create_app(settings: Settings, engine: Engine | None = None, *, ingest_first: bool = False,
               on_load_failure: Callable[[str], None] | None = None, load_before_serving: bool = False) -> FastAPI:
    """The app. With ``engine`` (tests) it is ready at once; otherwise the lifespan loads the
    model and the index once, in a background thread (``ingest_first``: build/update it from
    ``settings.seeds_dir`` first); if that fails, /readyz stays 503 with the reason and
    ``on_load_failure(message)`` is called (default: log it). ``load_before_serving`` (the worker
    processes of service/server/workers.py): load during start-up instead, and fail start-up if it fails."""
    state = ServiceState(settings=settings, engine=engine, metrics=Metrics())
    if engine is not None:
        state.ready.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sync routes run in anyio's thread pool (40 threads by default); the model runs on its own
        # thread anyway, so a smaller pool only saves memory and context switches.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        loader = None
        owned = state.engine is None  # we close the engine we loaded, not one handed to us
        callback = on_load_failure or _log_load_failure
        if owned and load_before_serving:
            await anyio.to_thread.run_sync(_load_engine, state, False, callback)
            if state.engine is None:
                raise RuntimeError(f"citeqa cannot serve: {state.load_error}")
        elif owned:
            loader = threading.Thread(target=_load_engine, args=(state, ingest_first, callback),
                                      name="citeqa-load", daemon=True)
            loader.start()
        try:
            yield
        finally:
            if loader is not None:
                await anyio.to_thread.run_sync(loader.join, 30)
            if owned and state.engine is not None:
                state.engine.close()

    # FastAPIOffline serves the /docs and /redoc assets from its own package: the stock FastAPI
    # pages load them from a CDN and stay blank on a machine without internet.
    app = FastAPIOffline(
        title="citeqa",
        version="0.1.0",
        summary="Question answering over news articles with exact sentence citations",
        description="Ask a question, get an extractive answer whose every [n] marker cites one exact sentence "
                    "(`quote == document text[start:end]`). Writes need `Authorization: Bearer <CITEQA_API_KEY>` "
                    "when a key is configured, and are accepted only from this machine otherwise.",
        lifespan=lifespan,
    )
    app.state.citeqa = state
    app.include_router(router)
    app.include_router(metrics_router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)

    # added last = outermost: metrics see every response, including 413s from the size limit;
    # ServerErrors first = innermost, so a 500 is answered before Starlette's outer handler
    app.add_middleware(ServerErrors)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TrustedHosts, policy=HostPolicy(settings))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


def _precheck(settings: Settings, ingest_first: bool) -> str | None:
    """Fail fast, before loading the model, on a missing or unreadable index."""
    from index.stores.factory import precheck

    return None if ingest_first else precheck(settings.store_config())


def key_warning(settings: Settings, host: str) -> str | None:
    """The warning for a server reachable from the network with no key (Settings reads an empty
    or blank CITEQA_API_KEY as none)."""
    if settings.api_key is None and host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
        return (f"listening on {host} without CITEQA_API_KEY (unset or empty); document writes are accepted "
                "from this machine only")
    return None


def serve(settings: Settings, host: str | None = None, port: int | None = None, ingest_first: bool = False) -> int:
    """Run the service until interrupted; returns the exit code (2 when the index cannot be loaded)."""
    import uvicorn

    host = host or settings.host
    port = port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})  # the Host check knows the bind
    problem = _precheck(settings, ingest_first)
    if problem:
        print(f"citeqa: error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    warning = key_warning(settings, host)
    if warning:
        print(f"citeqa: warning: {warning}", file=sys.stderr)
    if settings.workers > 1:
        from service.server.workers import serve_workers

        return serve_workers(settings, host, port, ingest_first)

    server: uvicorn.Server | None = None

    def stop(message: str) -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(settings, ingest_first=ingest_first, on_load_failure=stop)
    # proxy_headers off: with it (uvicorn's default) X-Forwarded-For from a trusted peer, or from
    # anyone with FORWARDED_ALLOW_IPS=*, rewrites the client address the loopback check reads.
    config = uvicorn.Config(app, host=host, port=port, log_level="info", server_header=False,
                            timeout_graceful_shutdown=5, lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot bind; it has logged why
        print(f"citeqa: error: could not serve on {host}:{port} (see the message above)", file=sys.stderr)
        return exc.code if isinstance(exc.code, int) and exc.code else EXIT_ERROR
    except KeyboardInterrupt:
        pass
    state: ServiceState = app.state.citeqa
    if state.load_error:
        print(f"citeqa: error: {state.load_error}", file=sys.stderr)
        return EXIT_ERROR
    return 0

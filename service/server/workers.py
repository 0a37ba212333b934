"""Several server processes on one port (`CITEQA_WORKERS` > 1).

One process serves a request's Python work (fusion, reranking, answer composition) under one
GIL; a second process lets two requests' Python work run on the two cores at once, next to the
model (`citeqa bench --part load`). uvicorn's own supervisor runs the processes; each worker
loads its own model and index before it accepts a connection, so a worker never answers "not
ready". The index is read-only to the workers' searches and SQLite (WAL) serializes writes; an
ingest or an API write in one process is seen by the others at their next search (hybrid.py).

TCP_NODELAY: asyncio sets it on accepted TCP sockets, but only when the listening socket says it
is TCP, and the socket uvicorn hands to its worker processes is rebuilt from a file descriptor
that no longer says so. Without it, a response written in two parts waits for the client's
delayed ACK: 40 ms more per request on a kept-alive connection (measured: 70 ms instead of 20).
"""
from __future__ import annotations

import os
import socket
import sys

from uvicorn.protocols.http.h11_impl import H11Protocol

from service.config import Settings

EXIT_ERROR = 2


def set_nodelay(transport) -> bool:
    """Disable Nagle's algorithm on a transport's TCP socket; False when there is none."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return False
    return True


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as CITEQA_* variables: worker processes build their own Settings from them."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, list):  # list settings are read back comma-separated
            value = ",".join(map(str, value))
        env[f"CITEQA_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def worker_app():
    """The app of one worker process (uvicorn's factory): engine loaded before serving."""
    from service.server.app import create_app

    settings = Settings()
    # The cores are shared out: two processes each running the model on every core make four
    # OpenMP threads fight over two cores, and throughput at 8 clients fell to a third (measured).
    # The ONNX models take their threads from the settings; torch (a checkpoint reader) reads this
    # when it is first imported, so a worker that never needs torch does not pay its import.
    share = max(1, (os.cpu_count() or 1) // settings.workers)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(share)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(share))
    return create_app(settings, load_before_serving=True)


def serve_workers(settings: Settings, host: str, port: int, ingest_first: bool) -> int:
    import uvicorn

    if ingest_first:  # once, here: workers that each ingested would race to write the same files
        from service.engine import Engine, EngineError

        try:
            Engine.load(settings, ingest_if_needed=True).close()
        except EngineError as exc:
            print(f"citeqa: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    os.environ.update(settings_env(settings))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    uvicorn.run("service.server.workers:worker_app", factory=True, host=host, port=port, workers=settings.workers,
                http=NoDelayH11Protocol, log_level="info", server_header=False, timeout_graceful_shutdown=5,
                lifespan="on", proxy_headers=False)  # never let X-Forwarded-For make a client "local"
    return 0

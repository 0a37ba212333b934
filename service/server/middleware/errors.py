"""Every error as a JSON ``{"detail": ...}``: bad input is a clear 4xx, the unexpected a bare 500."""
from __future__ import annotations

import logging
import sqlite3

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from service.server.middleware.asgi import TrackedSend, send_json

log = logging.getLogger("citeqa.service")
TOO_DEEP = "the JSON body is nested too deeply"


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        return JSONResponse({"detail": "the request body is not valid UTF-8"}, status_code=400)
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):  # json.loads of [[[[…]]]]
        return JSONResponse({"detail": TOO_DEEP}, status_code=400)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape ({"detail": [{loc, msg, type}]}) without echoing the input back."""
    errors = []
    for e in exc.errors():
        msg = str(e.get("msg", "invalid"))
        ctx_error = (e.get("ctx") or {}).get("error")
        if e.get("type") == "json_invalid" and ctx_error:
            msg = f"{msg}: {ctx_error}"
        errors.append({"loc": [x if isinstance(x, (str, int)) else str(x) for x in e.get("loc", ())],
                       "msg": msg, "type": str(e.get("type", "value_error"))})
    return JSONResponse({"detail": errors}, status_code=422)


def unexpected(exc: Exception) -> tuple[int, str]:
    """The status and message of an exception nothing else handled. A store damaged after it was
    opened (a page flipped on disk) is the operator's to fix, not a bug: 503 with what to run."""
    if isinstance(exc, sqlite3.DatabaseError):
        from index.stores.sqlite.access import is_corruption

        if is_corruption(exc):
            return 503, ("the index is damaged (SQLite: " + str(exc) + "); the operator can repair it with "
                         "`citeqa check --repair`, which keeps every readable document")
        return 503, f"the index cannot be read right now (SQLite: {exc})"
    from index.stores.errors import IndexUnavailable

    if isinstance(exc, IndexUnavailable):  # a Milvus store that stopped answering, ...
        return 503, str(exc)
    return 500, "internal server error"


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    status, detail = unexpected(exc)
    return JSONResponse({"detail": detail}, status_code=status)


class ServerErrors:
    """Pure ASGI middleware (the innermost one): an unexpected exception becomes the bare JSON 500
    here. Starlette's own outermost handler answers the same but then re-raises, and uvicorn drops
    the kept-alive connection of every request that raised."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except StarletteHTTPException:  # the body size limit's, answered by its own middleware
            raise
        except Exception as exc:
            if tracked.started:  # half a response is out: only closing the connection is honest
                raise
            log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            status, detail = unexpected(exc)
            await send_json(send, status, detail, close=False)

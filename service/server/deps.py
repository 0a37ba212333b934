"""FastAPI dependencies: the shared engine, the write lock and the writer check.

The app keeps one :class:`ServiceState` in ``app.state.citeqa``; routes reach it only through
these dependencies, so they stay thin and tests can hand the app a ready engine.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from service.engine import Engine
from service.server.middleware.errors import TOO_DEEP
from service.schemas import DocumentIn
from service.server.middleware.origins import cross_site_reason
from service.server.middleware.security import forwarded_by_proxy, is_loopback, key_matches
from service.config import Settings

UPLOAD_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine | None = None
    load_error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    metrics: Any = None


def get_state(request: Request) -> ServiceState:
    return request.app.state.citeqa


def get_engine(state: ServiceState = Depends(get_state)) -> Engine:
    if state.engine is None:
        detail = f"the index failed to load: {state.load_error}" if state.load_error else \
            "the index is still loading; try again in a few seconds"
        raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": "2"})
    return state.engine


def get_write_lock(state: ServiceState = Depends(get_state)) -> threading.Lock:
    return state.write_lock


bearer = HTTPBearer(auto_error=False, description="CITEQA_API_KEY; required for writes when configured")


def require_writer(request: Request, state: ServiceState = Depends(get_state),
                   credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """403 for a browser write from another site; then 401 without a key, 403 with a wrong one;
    with no key configured only a loopback peer that no proxy speaks for may write."""
    reason = cross_site_reason(request.headers.get("origin"), request.headers.get("sec-fetch-site"),
                               request.headers.get("host"))
    if reason:
        raise HTTPException(status_code=403, detail=f"cross-site write refused: {reason}")
    api_key = state.settings.api_key.get_secret_value() if state.settings.api_key else None
    if api_key:
        if credentials is None or not credentials.credentials:
            raise HTTPException(status_code=401, detail="this endpoint needs 'Authorization: Bearer <API key>'",
                                headers={"WWW-Authenticate": "Bearer"})
        if not key_matches(credentials.credentials, api_key):
            raise HTTPException(status_code=403, detail="the API key is not valid")
        return
    # scope["client"] is the socket peer: `serve` runs uvicorn without proxy_headers, so no
    # X-Forwarded-For rewrites it; a local reverse proxy's requests (peer 127.0.0.1, forwarding
    # headers) speak for someone else and are not local either.
    host = request.client.host if request.client else None
    if not is_loopback(host) or forwarded_by_proxy(request.headers):
        raise HTTPException(status_code=403,
                            detail="writes are only accepted from this machine unless CITEQA_API_KEY is set")


def _validation_error(exc: ValidationError, prefix: tuple) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": prefix + tuple(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    )


async def document_input(request: Request) -> tuple[DocumentIn, str | None]:
    """The article of ``POST /api/documents``: a JSON DocumentIn, or a multipart upload with a
    ``file`` field (.txt/.md/.html in UTF-8, .pdf, .docx) and optional ``doc_id``, ``title``, ``date`` fields."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        raw = await request.body()
        try:
            data = json.loads(raw)
        except UnicodeDecodeError:
            raise HTTPException(status_code=400, detail="the request body is not valid UTF-8") from None
        except RecursionError:  # [[[[…]]]] deeper than the parser's stack
            raise HTTPException(status_code=400, detail=TOO_DEEP) from None
        except json.JSONDecodeError as exc:
            raise RequestValidationError([{"loc": ("body", exc.pos), "msg": f"JSON decode error: {exc.msg}",
                                           "type": "json_invalid"}]) from None
        filename = None
        try:
            doc = DocumentIn.model_validate(data)
        except ValidationError as exc:
            raise _validation_error(exc, ("body",)) from None
    elif ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise RequestValidationError([{"loc": ("body", "file"), "msg": "a file upload is required",
                                               "type": "missing"}])
            filename = Path(upload.filename or "upload.txt").name
            if Path(filename).suffix.lower() not in UPLOAD_SUFFIXES:
                raise HTTPException(status_code=422, detail=f"unsupported file type {Path(filename).suffix or '(none)'!r}; "
                                    f"expected one of {', '.join(sorted(UPLOAD_SUFFIXES))}")
            data = await upload.read()
            fields = {k: form.get(k) for k in ("doc_id", "title", "date") if isinstance(form.get(k), str) and form.get(k)}
        from index.text.loading import SUPPORTED
        from service.server.uploads import upload_text

        text = await upload_text(request.app.state, data, SUPPORTED[Path(filename).suffix.lower()])
        try:
            doc = DocumentIn.model_validate({**fields, "text": text})
        except ValidationError as exc:
            raise _validation_error(exc, ("body",)) from None
    else:
        raise HTTPException(status_code=415, detail="send the article as application/json or as a multipart/form-data "
                                                    "upload with a 'file' field")
    return doc, filename

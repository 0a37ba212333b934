"""The HTTP routes. Thin: validation is in the schemas, work in the Engine, wiring in deps."""
from __future__ import annotations

import threading

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from service.server.deps import ServiceState, document_input, get_engine, get_state, get_write_lock, require_writer
from index.text.loading import BadInput
from index.stores.errors import StoreFull, StoreReadOnly
from service.engine import Engine
from service.answerers.llm.client import LLMError
from service.server.streaming import MEDIA_TYPE, ask_events, wants_stream
from service.schemas import (AskRequest, AskResponse, DeleteResult, DocumentDetail, DocumentIn, DocumentSummary,
                             DocumentWritten, ErrorBody, SearchRequest, SearchResponse)


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    documents: int


def _err(description: str) -> dict:
    return {"model": ErrorBody, "description": description}


BAD_BODY = {
    400: _err("The body could not be read (for example it is not valid UTF-8)."),
    413: _err("The body is larger than the limit (1 MB by default)."),
    422: _err("The body is not valid: missing or wrongly typed fields, an empty question, top_k outside 1..20, "
              "malformed JSON."),
}
NOT_READY = {503: _err("The index and model are still loading (or failed to load).")}
WRITER = {
    401: _err("An API key is configured and the request has none."),
    403: _err("The API key is wrong, no key is configured and the client is not on this machine, or a browser "
              "sent the write from another site (Origin, Sec-Fetch-Site)."),
}
NOT_FOUND = {404: _err("No document with this id.")}
DISK_FULL = {507: _err("No space left on the index's disk: nothing was written, the index is as before.")}
READ_ONLY = {503: _err("The index is loading, or it is read-only (a read-only disk, no write permission): "
                       "reads are served, writes refused.")}


def _unwritable(exc: OSError) -> HTTPException:
    if isinstance(exc, StoreReadOnly):
        return HTTPException(status_code=503, detail=exc.strerror)
    return HTTPException(status_code=507, detail=f"{exc.strerror}; free some space and retry")

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness: 200 while the process runs")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, tags=["ops"], responses=NOT_READY,
            summary="Readiness: 200 once the model and the index are loaded")
def readyz(state: ServiceState = Depends(get_state)):
    if state.engine is None:
        detail = f"the index failed to load: {state.load_error}" if state.load_error else "loading"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "2"})
    return Ready(status="ready", documents=state.engine.index.store.counts()["documents"])


@router.post("/api/ask", response_model=AskResponse, tags=["answers"],
             responses={**BAD_BODY, **NOT_READY,
                        200: {"content": {"text/event-stream": {}},
                              "description": "The answer; with `stream: true` or `Accept: text/event-stream`, "
                                             "Server-Sent Events `passages`, `token`…, `final` (or `error`)"}},
             summary="Answer a question from the articles, citing exact sentences")
def ask(req: AskRequest, request: Request, engine: Engine = Depends(get_engine)):
    if wants_stream(req, request.headers.get("accept")):
        try:
            engine.chosen(req.answerer)  # a request the server cannot serve is a 422, not a stream
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return StreamingResponse(ask_events(engine, req), media_type=MEDIA_TYPE,
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    try:
        return engine.ask(req.question, top_k=req.top_k, filters=req.filters, history=req.history,
                          answerer=req.answerer)
    except LLMError as exc:  # asked for the LLM by name: no silent fallback
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    except ValueError as exc:  # e.g. "llm" asked of a server without one
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.post("/api/search", response_model=SearchResponse, tags=["answers"], responses={**BAD_BODY, **NOT_READY},
             summary="Hybrid (BM25 + dense) passage search")
def search(req: SearchRequest, engine: Engine = Depends(get_engine)) -> SearchResponse:
    return engine.search(req.query, top_k=req.top_k, filters=req.filters)


@router.get("/api/documents", response_model=list[DocumentSummary], tags=["documents"], responses=NOT_READY,
            summary="List the indexed articles")
def list_documents(engine: Engine = Depends(get_engine)) -> list[DocumentSummary]:
    return engine.documents()


@router.get("/api/documents/{doc_id}", response_model=DocumentDetail, tags=["documents"],
            responses={**NOT_FOUND, **NOT_READY}, summary="One article with its full text")
def get_document(doc_id: str, engine: Engine = Depends(get_engine)) -> DocumentDetail:
    doc = engine.document(doc_id) if _storable(doc_id) else None
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no document {doc_id[:200]!r}")
    return doc


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": DocumentIn.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": ".txt, .md or .html (UTF-8), .pdf or .docx"},
                    "doc_id": {"type": "string", "description": "default: from the file name"},
                    "title": {"type": "string"},
                    "date": {"type": "string", "format": "date"},
                },
            }
        },
    },
}


@router.post("/api/documents", response_model=DocumentWritten, status_code=status.HTTP_201_CREATED,
             tags=["documents"], dependencies=[Depends(require_writer)],
             responses={200: {"model": DocumentWritten, "description": "An article with this id was replaced "
                                                                      "(`replaced: true`)."},
                        201: {"description": "The article was added."},
                        **WRITER, **BAD_BODY, 415: _err("Neither JSON nor a multipart upload."), **READ_ONLY,
                        **DISK_FULL},
             openapi_extra={"requestBody": _UPLOAD_BODY},
             summary="Add or replace one article (JSON or a file upload); searchable on the next request")
def add_document(response: Response, body: tuple[DocumentIn, str | None] = Depends(document_input),
                 engine: Engine = Depends(get_engine),
                 lock: threading.Lock = Depends(get_write_lock)) -> DocumentWritten:
    doc, filename = body
    with lock:
        try:
            detail, created = engine.add_document(doc, filename=filename)
        except BadInput as exc:
            raise HTTPException(status_code=422, detail=f"the article is unusable: {exc}") from None
        except (StoreFull, StoreReadOnly) as exc:
            raise _unwritable(exc) from None
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return DocumentWritten(**detail.model_dump(), replaced=not created)


@router.delete("/api/documents/{doc_id}", response_model=DeleteResult, tags=["documents"],
               dependencies=[Depends(require_writer)], responses={**WRITER, **NOT_FOUND, **READ_ONLY, **DISK_FULL},
               summary="Remove one article")
def delete_document(doc_id: str, engine: Engine = Depends(get_engine),
                    lock: threading.Lock = Depends(get_write_lock)) -> DeleteResult:
    with lock:
        try:
            deleted = _storable(doc_id) and engine.delete_document(doc_id)
        except (StoreFull, StoreReadOnly) as exc:
            raise _unwritable(exc) from None
    if not deleted:
        raise HTTPException(status_code=404, detail=f"no document {doc_id[:200]!r}")
    return DeleteResult(doc_id=doc_id, deleted=True)


def _storable(s: str) -> bool:
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


metrics_router = APIRouter()


@metrics_router.get("/metrics", response_class=PlainTextResponse, tags=["ops"],
                    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                                     "description": "Prometheus text format: request counts and latency histograms "
                                                    "per route"}},
                    summary="Prometheus metrics")
def metrics(state: ServiceState = Depends(get_state)) -> Response:
    body, content_type = state.metrics.render(state)
    return Response(body, media_type=content_type)

"""`POST /api/ask` as Server-Sent Events: `passages` as soon as retrieval is done, `token` events
while a generative answerer writes (none for the extractive ones), then `final` with the same JSON
object as the plain answer. A failure after the stream started is an `error` event (the status line
is gone by then), and the stream always ends after `final` or `error`."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from service.engine import Engine
from service.answerers.llm.client import LLMError
from service.schemas import AskRequest

log = logging.getLogger("citeqa.service")
MEDIA_TYPE = "text/event-stream"


def event(name: str, data) -> str:
    body = json.dumps(data, ensure_ascii=False)
    return f"event: {name}\ndata: {body}\n\n"  # json.dumps never emits a raw newline


def wants_stream(req: AskRequest, accept: str | None) -> bool:
    return req.stream or MEDIA_TYPE in (accept or "").lower()


def ask_events(engine: Engine, req: AskRequest) -> Iterator[str]:
    """The engine's staged ask (`Engine.stream`, the pipeline `POST /api/ask` runs too), as events."""
    stages = engine.stream(req.question, top_k=req.top_k, filters=req.filters, history=req.history,
                           answerer=req.answerer)
    try:
        for kind, data in stages:
            if kind == "passages":
                yield event("passages", {**data, "passages": [p.model_dump() for p in data["passages"]]})
            elif kind == "token":
                yield event("token", {"text": data})
            else:
                yield event("final", data[0].model_dump(mode="json"))
    except LLMError as exc:
        yield event("error", {"detail": str(exc), "status": exc.status})
    except ValueError as exc:
        yield event("error", {"detail": str(exc), "status": 422})
    except Exception as exc:  # the status line is sent: say it in the stream, log the rest
        log.error("error while streaming an answer", exc_info=exc)
        yield event("error", {"detail": "internal server error", "status": 500})
    finally:
        stages.close()

"""An uploaded file's text, without letting hostile files take the server's threads.

PDF and DOCX are parsed in the sandbox's child processes (index/sandbox.py: a time and a memory
limit per file). Here, in the event loop, an upload first waits for one of the sandbox's
CITEQA_PARSE_WORKERS slots *without holding a worker thread*: sixteen uploads of a file that
loops forever then hold two threads (for at most the parse limit each), not all of them, and
/healthz, /api/ask and the page keep answering. A slot not free within one parse's limit is a 429.
"""
from __future__ import annotations

import asyncio

import anyio
import anyio.to_thread
from fastapi import HTTPException

from index.text import sandbox
from index.text.loading import BINARY, BadInput, extract


def _limiter(state) -> anyio.CapacityLimiter:
    """The app's parse slots, one limiter per event loop (a TestClient may start several)."""
    loop = asyncio.get_running_loop()
    got = getattr(state, "parse_limiter", None)
    if got is None or got[0] is not loop:
        got = (loop, anyio.CapacityLimiter(sandbox.limits()[2]))
        state.parse_limiter = got
    return got[1]


async def upload_text(state, data: bytes, kind: str) -> str:
    """The text of an uploaded file (extract's), or an HTTPException: 400 unusable, 413/422 a limit,
    429 every parse slot busy."""
    try:
        if kind not in BINARY:
            return await anyio.to_thread.run_sync(extract, data, kind)
        timeout_s, _, workers = sandbox.limits()
        limiter = _limiter(state)
        acquired = False
        with anyio.move_on_after(timeout_s + 2.0):
            await limiter.acquire()
            acquired = True
        if not acquired:
            raise HTTPException(status_code=429, headers={"Retry-After": str(int(timeout_s) + 1)},
                                detail=f"the server is parsing {workers} files already (CITEQA_PARSE_WORKERS); "
                                       "retry in a few seconds")
        try:
            return await anyio.to_thread.run_sync(extract, data, kind)
        finally:
            limiter.release()
    except sandbox.ParseLimit as exc:
        raise HTTPException(status_code=exc.status, detail=f"the uploaded file is refused: {exc}") from None
    except BadInput as exc:
        raise HTTPException(status_code=400, detail=f"the uploaded file is unusable: {exc}") from None


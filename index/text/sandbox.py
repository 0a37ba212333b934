"""Untrusted PDF and DOCX files are parsed in worker processes with a wall-clock and a memory limit.

pdfminer.six loops forever on a page that refers to itself (``3 0 obj 3 0 R endobj``) or a
content stream that does; a DOCX whose document.xml inflates to 100 MB takes a minute and a
gigabyte. Neither can be stopped inside the server's own process (a thread cannot be killed, and
pure-Python loops starve the event loop of the GIL), so the parse runs in a child:

- a few warm children (``python -m index.text.sandbox``, started on first use, reused, recycled after
  ``MAX_JOBS`` files) each read one file at a time from a pipe and send its text back;
- each child runs under ``RLIMIT_AS`` (``CITEQA_PARSE_MEMORY_MB``, default 1024): past it, Python
  raises MemoryError (answered as "over the memory limit") or the child dies (the same answer);
- the parent waits at most ``CITEQA_PARSE_TIMEOUT_S`` (default 8) for the answer, then kills
  the child (SIGKILL) and answers "took longer than the limit"; a new child replaces it;
- at most ``CITEQA_PARSE_WORKERS`` files (default 2) are parsed at once; a file that finds them
  all busy for longer than one parse's limit is refused as busy (retry), never queued forever.

Everything the child says is a (status, text) frame; no pickle crosses the pipe. Errors are
BadInput subclasses with the HTTP status the API answers (413 memory or decompressed size, 422
time, 429 busy), so ``citeqa ingest`` reports them by name like any other unreadable file.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from index.text.loading import BadInput

log = logging.getLogger(__name__)

KINDS = ("pdf", "docx")
MAX_JOBS = 200  # a child is replaced after this many files (whatever its allocator kept)
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds the `index` package
_HEAD = struct.Struct("!4sQ")  # parent -> child: kind, length; then the file's bytes
_REPLY = struct.Struct("!cQ")  # child -> parent: status, length; then UTF-8 text


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def limits() -> tuple[float, int, int]:
    """(timeout in s, memory in MB, workers) from CITEQA_PARSE_TIMEOUT_S / _MEMORY_MB / _WORKERS."""
    return (max(0.5, _env_float("CITEQA_PARSE_TIMEOUT_S", 8.0)), max(128, int(_env_float("CITEQA_PARSE_MEMORY_MB", 1024))),
            max(1, int(_env_float("CITEQA_PARSE_WORKERS", 2))))


class ParseLimit(BadInput):
    """A file that hit a limit of the parser (time, memory, decompressed size, busy): reported and
    skipped like any unreadable file; `status` is the HTTP status the API answers."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class _Worker:
    def __init__(self, memory_mb: int):
        env = dict(os.environ)
        env["PYTHONPATH"] = _ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen([sys.executable, "-m", "index.text.sandbox", str(memory_mb)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=_ROOT,
                                     start_new_session=True)  # a Ctrl-C in the terminal is the parent's to handle
        self.jobs = 0
        self.ready = False

    def _read(self, n: int, deadline: float) -> bytes | None:
        """n bytes from the child's stdout by the deadline; None on timeout, b"" short on EOF."""
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            piece = os.read(fd, n - len(buf))
            if not piece:
                return bytes(buf)
            buf += piece
        return bytes(buf)

    def wait_ready(self, seconds: float) -> bool:
        if not self.ready:
            self.ready = self._read(1, time.monotonic() + seconds) == b"r"
        return self.ready

    def run(self, kind: str, data: bytes, timeout: float) -> tuple[bytes, str] | None:
        """(status, text); None on timeout; (b"x", "") when the child died."""
        self.jobs += 1
        try:
            self.proc.stdin.write(_HEAD.pack(kind.encode().ljust(4), len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return b"x", ""
        deadline = time.monotonic() + timeout
        head = self._read(_REPLY.size, deadline)
        if head is None:
            return None
        if len(head) < _REPLY.size:
            return b"x", ""
        status, length = _REPLY.unpack(head)
        body = self._read(length, deadline + 5.0)  # the text is written at once: only transfer time
        if body is None or len(body) < length:
            return b"x", ""
        return status, body.decode("utf-8", "replace")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class ParsePool:
    """Warm parser children; `parse` blocks its thread until the text, a limit, or busy."""

    def __init__(self, timeout_s: float, memory_mb: int, workers: int):
        self.timeout_s, self.memory_mb, self.workers = timeout_s, memory_mb, workers
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                w = self._idle.pop()
                if w.proc.poll() is None:
                    return w
                w.kill()
        return _Worker(self.memory_mb)

    def _give(self, w: _Worker) -> None:
        with self._lock:
            if self._closed or w.jobs >= MAX_JOBS or w.proc.poll() is not None:
                w.kill()
            else:
                self._idle.append(w)

    def parse(self, data: bytes, kind: str, wait_s: float | None = None) -> str:
        if kind not in KINDS:
            raise ValueError(f"the sandbox parses {KINDS}, not {kind!r}")
        wait_s = self.timeout_s + 2.0 if wait_s is None else wait_s
        if not self._slots.acquire(timeout=wait_s):
            raise ParseLimit(f"the server is parsing {self.workers} files already and none finished in "
                              f"{wait_s:.0f} s; retry later (CITEQA_PARSE_WORKERS)", 429)
        try:
            w = self._take()
            if not w.wait_ready(30.0):
                w.kill()
                raise ParseLimit("the file parser could not be started", 429)
            t0 = time.monotonic()
            got = w.run(kind, data, self.timeout_s)
            if got is None:
                w.kill()
                log.warning("a %s file took over %.1f s to parse: its parser was killed", kind, self.timeout_s)
                raise ParseLimit(f"parsing the {kind.upper()} file took longer than the limit of "
                                  f"{self.timeout_s:g} s (CITEQA_PARSE_TIMEOUT_S); a damaged or hostile file?", 422)
            status, text = got
            if status == b"x":
                w.kill()
                raise ParseLimit(f"the {kind.upper()} parser stopped (over the memory limit of {self.memory_mb} MB, "
                                  "CITEQA_PARSE_MEMORY_MB?); a damaged or hostile file?", 413)
            if status == b"m":
                w.kill()  # its heap is spent: a fresh child for the next file
                raise ParseLimit(f"parsing the {kind.upper()} file needs more than the memory limit of "
                                  f"{self.memory_mb} MB (CITEQA_PARSE_MEMORY_MB)", 413)
            self._give(w)
            log.debug("%s parsed in %.0f ms in a child", kind, (time.monotonic() - t0) * 1000)
            if status == b"o":
                return text
            if status == b"z":
                raise ParseLimit(text, 413)
            if status == b"n":
                from index.text.formats import NoText

                raise NoText(text)
            raise ValueError(text)  # b"v": not a readable file (the message says why)
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()


_pool: ParsePool | None = None
_pool_lock = threading.Lock()


def pool() -> ParsePool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ParsePool(*limits())
        return _pool


def reset() -> None:
    """Close the shared pool (its children exit); the next parse starts one with today's limits."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None:
        old.close()


def parse(data: bytes, kind: str) -> str:
    """The text of a PDF or DOCX file's bytes (formats.pdf_text / docx_text), parsed in a child."""
    return pool().parse(data, kind)


# ---- the child ----------------------------------------------------------------------------------
def _guard_pdfminer(max_hops: int = 64) -> None:
    """pdfminer's resolve1 follows references while the object is one (``3 0 obj 3 0 R endobj``
    forever); a bounded one ends such loops at once instead of at the time limit. In the child only."""
    import pdfminer.pdftypes as pdftypes

    original = pdftypes.resolve1

    def resolve1(x, default=None):
        for _ in range(max_hops):
            if not isinstance(x, pdftypes.PDFObjRef):
                return x
            x = x.resolve(default=default)
        raise ValueError(f"an indirect object refers to itself (a loop of over {max_hops} references)")

    for name, module in list(sys.modules.items()):
        if name.startswith("pdfminer") and getattr(module, "resolve1", None) is original:
            module.resolve1 = resolve1


def _child(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from index.text import formats  # pdfminer and python-docx are imported on first use: warm them now
    import docx  # noqa: F401
    import pdfminer.high_level  # noqa: F401
    import pdfminer.pdfinterp, pdfminer.pdfpage  # noqa: F401, E401 - the modules that import resolve1

    _guard_pdfminer()

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the frames

    def reply(status: bytes, text: str) -> None:
        body = text.encode("utf-8", "replace")
        stdout.write(_REPLY.pack(status, len(body)) + body)
        stdout.flush()

    stdout.write(b"r")
    stdout.flush()
    while True:
        head = stdin.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return  # the parent closed the pipe
        kind, length = _HEAD.unpack(head)
        data = stdin.read(length)
        kind = kind.decode().strip()
        try:
            text = formats.pdf_text(data) if kind == "pdf" else formats.docx_text(data)
        except MemoryError:
            reply(b"m", "")
            return
        except formats.ZipLimit as exc:
            reply(b"z", str(exc))
        except formats.NoText as exc:
            reply(b"n", str(exc))
        except ValueError as exc:
            if isinstance(exc.__cause__, MemoryError):  # pdf_text wraps what pdfminer raised
                reply(b"m", "")
                return
            reply(b"v", str(exc))
        except RecursionError:
            reply(b"v", f"not a readable {kind.upper()} file (nested too deeply)")
        except Exception as exc:  # noqa: BLE001 - anything a parser raises is an unreadable file
            reply(b"v", f"not a readable {kind.upper()} file ({type(exc).__name__})")
        else:
            reply(b"o", text)
        del data


if __name__ == "__main__":
    _child(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)

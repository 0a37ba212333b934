"""Questions while a document is uploaded (hardening point 2): ask latency idle, then while one large
article is embedded through `POST /api/documents`' code path (Engine.add_document), on the same
engine. Before the fix a 100 KB upload held the model for 18 s and every question waited behind it.

The document is a synthetic article of the wanted size made of the generated corpus's sentences
(eval/bench/corpus_gen.py); `--upload-kind nopunct` strips its punctuation (the worst case found: one
"sentence" per chunk window).
"""
from __future__ import annotations

import threading
import time

from eval.bench import corpus_gen
from eval.bench.common import ms_stats, table
from service.schemas import DocumentIn


def make_document(n_bytes: int, kind: str = "text", seed: int = 7) -> str:
    """About `n_bytes` of article text (whole generated articles' bodies, joined)."""
    import tempfile
    from pathlib import Path

    from index.text.loading import load_file

    parts, size, i = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        while size < n_bytes:
            batch = corpus_gen.generate(Path(tmp) / str(i), 20, seed=seed + i)
            for p in batch:
                text = load_file(p).text
                parts.append(text)
                size += len(text.encode())
                if size >= n_bytes:
                    break
            i += 1
    text = "\n\n".join(parts).encode()[:n_bytes].decode("utf-8", errors="ignore")
    if kind == "nopunct":
        text = "".join(ch for ch in text if ch.isalnum() or ch.isspace())
    return text


def _ask_times(engine, questions: list[str], stop, top_k: int, at_least: int) -> list[float]:
    times, i = [], 0
    while i < at_least or (stop is not None and not stop.is_set()):
        t0 = time.perf_counter()
        engine.ask(questions[i % len(questions)], top_k=top_k)
        times.append(time.perf_counter() - t0)
        i += 1
        if stop is None and i >= at_least:
            break
    return times


def run(engine, questions: list[str], n_bytes: int = 500_000, kind: str = "text", top_k: int = 5,
        idle_asks: int = 40) -> dict:
    text = make_document(n_bytes, kind)
    _ask_times(engine, questions, None, top_k, 3)  # warm
    idle = _ask_times(engine, questions, None, top_k, idle_asks)
    # the same upload with nobody asking: what "under load" is measured against
    quiet: dict = {}
    _upload(engine, text, quiet)
    engine.delete_document("bench-upload")
    done = threading.Event()
    result: dict = {}

    def upload() -> None:
        _upload(engine, text, result)
        done.set()

    th = threading.Thread(target=upload, name="bench-upload")
    th.start()
    during = _ask_times(engine, questions, done, top_k, 5)
    th.join()
    engine.delete_document("bench-upload")
    idle_s, during_s = ms_stats(idle), ms_stats(during)
    out = {"bytes": len(text.encode()), "kind": kind, "top_k": top_k, **result,
           "upload_idle_s": quiet.get("upload_s"),
           "idle": {"asks": idle_s["n"], **idle_s}, "during": {"asks": during_s["n"], **during_s},
           "p95_ratio": round(during_s["p95_ms"] / idle_s["p95_ms"], 2) if idle_s["p95_ms"] else None,
           "target_ratio": 3.0}
    if quiet.get("error") and not out.get("error"):
        out["error"] = quiet["error"]
    return out


def _upload(engine, text: str, result: dict) -> None:
    t0 = time.perf_counter()
    try:
        detail, _ = engine.add_document(DocumentIn(text=text, doc_id="bench-upload", title="Bench upload"))
        result["chunks"] = detail.chunks
    except Exception as exc:  # reported, not raised: the asks' figures still stand
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["upload_s"] = round(time.perf_counter() - t0, 2)


# issue 26's targets: the upload under a continuous asker at most 60 s (for 550 KB) and under three times
# its idle time; the asks' p95 during it at most 3x idle + 100 ms
UPLOAD_LIMIT_S = 60.0
UPLOAD_SLOWDOWN = 3.0
P95_SLACK_MS = 100.0


def targets(res: dict) -> list[list]:
    """Pure: [target, measured, met] rows of an upload result (none for a failed upload)."""
    if res.get("error") or res.get("upload_s") is None or not res["idle"].get("p95_ms"):
        return []
    kb = res["bytes"] / 1000
    limit = res["target_ratio"] * res["idle"]["p95_ms"] + P95_SLACK_MS
    rows = [[f"ask p95 during a {kb:.0f} KB upload <= {res['target_ratio']:g}x idle + {P95_SLACK_MS:.0f} ms "
             f"({limit:.0f} ms)", res["during"]["p95_ms"], res["during"]["p95_ms"] <= limit],
            [f"the {kb:.0f} KB upload under a continuous asker <= {UPLOAD_LIMIT_S:.0f} s", res["upload_s"],
             res["upload_s"] <= UPLOAD_LIMIT_S]]
    if res.get("upload_idle_s"):
        ratio = round(res["upload_s"] / res["upload_idle_s"], 2)
        rows.append([f"that upload <= {UPLOAD_SLOWDOWN:g}x its idle time ({res['upload_idle_s']} s)", ratio,
                     ratio <= UPLOAD_SLOWDOWN])
    return rows


def report(res: dict) -> str:
    rows = [[phase, res[phase]["asks"], res[phase]["p50_ms"], res[phase]["p95_ms"]] for phase in ("idle", "during")]
    head = (f"{res['bytes'] / 1000:.0f} KB ({res['kind']}) uploaded in {res.get('upload_s')} s under a continuous "
            f"asker ({res.get('upload_idle_s')} s with none), "
            f"{res.get('chunks', '?')} chunks; ask p95 during / idle = {res['p95_ratio']}")
    if res.get("error"):
        head += f"; upload failed: {res['error']}"
    return head + "\n" + table(["asks", "n", "p50 ms", "p95 ms"], rows, "UPLOAD")

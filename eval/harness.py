"""`citeqa eval`: run the question set, score it, calibrate the abstention threshold, write a report.

In-process (default) the harness loads the engine over the configured index (building it from
the seeds if it is missing) and asks every question once with abstain_threshold = 0, so each
question gets its best answer and that answer's confidence; the answerer abstains iff
confidence < threshold and nothing else depends on the threshold, so every threshold of the
sweep, and the configured one, is simulated exactly from that one pass. With --url the harness
asks a running server (`POST {url}/api/ask`) and scores its responses as they are.

This module stays light at import time: `citeqa --help` imports `add_arguments`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eval import metrics as M
from eval.scoring import (MAX_ANSWER_WORDS, _r, aggregate, at_threshold, failures, per_kind,
                          retrieval_metrics, score_response)

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = EVAL_DIR / "questions.jsonl"
DEFAULT_OUT = EVAL_DIR / "out"
DEFAULT_MODES = ("hybrid", "dense", "bm25")
EXIT_OK, EXIT_ERROR = 0, 2
MAX_WRONGLY_ABSTAINED = 0.05  # the calibration constraint on answerable questions
HEADLINE_KEYS = (
    "hit@1", "hit@5", "mrr", "evidence_hit@5", "accuracy", "short_accuracy", "short_accuracy_typed",
    "citation_precision", "citation_recall", "unanswerable_abstained", "answerable_wrongly_abstained",
    "latency_p50_ms", "latency_p95_ms", "wall_p50_ms", "wall_p95_ms",
)
RETRIEVAL_KEYS = ("hit@1", "hit@5", "mrr", "evidence_hit@5")


class EvalError(RuntimeError):
    """The evaluation cannot run: no index, an unreachable server, a bad question file."""


class _NotReady(EvalError):
    """The server answered 503: still loading, or its index failed to load."""


# ---- questions ------------------------------------------------------------------------------
def load_questions(path: Path | str = DEFAULT_QUESTIONS) -> list[dict]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read the question file {path}: {exc}") from exc
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path}:{n}: not JSON: {exc}") from exc
        missing = {"id", "question", "answerable"} - set(q)
        if missing:
            raise EvalError(f"{path}:{n}: missing field(s) {sorted(missing)}")
        q.setdefault("answers", [])
        q.setdefault("doc_ids", [])
        q.setdefault("evidence", "")
        q.setdefault("kind", "answerable" if q["answerable"] else "unanswerable")
        out.append(q)
    if not out:
        raise EvalError(f"{path}: no questions")
    return out


# ---- asking ---------------------------------------------------------------------------------
class _RecordingEmbedder:
    """Wraps the embedder and remembers every text's vector: the first pass is timed for real,
    the retrieval-mode passes reuse the question vectors instead of re-embedding them."""

    def __init__(self, embedder):
        self._embedder = embedder
        self._cache: dict[str, Any] = {}

    def encode(self, texts: list[str], progress: bool | None = None, wide: bool = False):
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, v in zip(todo, self._embedder.encode(todo, progress=False, wide=wide)):
                self._cache[t] = v
        if not texts:
            return self._embedder.encode([], progress=False)
        return np.stack([self._cache[t] for t in texts])

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def _bar(it: Iterable, progress: bool, desc: str, total: int | None = None):
    if not progress:
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, total=total, unit="q", file=sys.stderr, leave=False)


def _headers(api_key: str | None) -> dict:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _post_ask(client, url: str, question: str, top_k: int) -> tuple[dict, float]:
    import httpx

    endpoint = url.rstrip("/") + "/api/ask"
    t0 = time.perf_counter()
    try:
        resp = client.post(endpoint, json={"question": question, "top_k": top_k})
    except httpx.HTTPError as exc:
        raise EvalError(f"cannot reach the server at {url}: {exc.__class__.__name__}: {exc}") from exc
    wall = (time.perf_counter() - t0) * 1000
    if resp.status_code in (401, 403):
        raise EvalError(f"the server at {url} refused the request (HTTP {resp.status_code}); pass --api-key "
                        "or set CITEQA_API_KEY")
    if resp.status_code == 503:
        raise _NotReady(resp.text[:300])
    if resp.status_code != 200:
        raise EvalError(f"POST {endpoint} answered HTTP {resp.status_code}: {resp.text[:300]}")
    try:
        return resp.json(), wall
    except ValueError as exc:
        raise EvalError(f"POST {endpoint} did not answer JSON: {resp.text[:300]}") from exc


def _wait_ready(client, url: str, question: str, top_k: int, ready_timeout: float) -> None:
    """One untimed question; a server still loading its model (HTTP 503) gets `ready_timeout` s."""
    deadline = time.monotonic() + ready_timeout
    while True:
        try:
            _post_ask(client, url, question, top_k)
            return
        except _NotReady as exc:
            if time.monotonic() >= deadline:
                raise EvalError(f"the server at {url} is not ready after {ready_timeout:g} s: {exc}") from exc
            time.sleep(1.0)


def _run_inprocess(engine, questions: list[dict], top_k: int, modes: Sequence[str], progress: bool):
    from service.engine import Engine

    rec = _RecordingEmbedder(engine.embedder)
    settings0 = engine.settings.model_copy(update={"abstain_threshold": 0.0})
    # a reader is shared at threshold 0 (one model, one thread), not loaded again per engine
    answerer0 = engine.answerer.with_threshold(0.0) if hasattr(engine.answerer, "with_threshold") else None
    calib = Engine(settings0, rec, engine.index, answerer=answerer0, mode=engine.retriever.mode)
    calib.embed("warm-up: the first model call is slower")  # not timed
    rows = []
    for q in _bar(questions, progress, "eval", len(questions)):
        t0 = time.perf_counter()
        resp = calib.ask(q["question"], top_k=top_k)
        wall = (time.perf_counter() - t0) * 1000
        rows.append(score_response(q, resp.model_dump(mode="json"), wall, top_k))

    mode_table: dict[str, dict] = {}
    answerable = [q for q in questions if q["answerable"]]
    for m in modes:
        eng = Engine(settings0, rec, engine.index, answerer=answerer0, mode=m)
        mrows = []
        for q in _bar(answerable, progress, f"mode {m}", len(answerable)):
            res = eng.search(q["question"], top_k=top_k).model_dump(mode="json")
            resp = {"passages": res["results"], "citations": [], "confidence": 0.0, "abstained": True}
            mrows.append(score_response(q, resp, 0.0, top_k))
        mode_table[m] = retrieval_metrics(mrows)
    return rows, mode_table


def configured_threshold(engine, override: float | None = None) -> tuple[float, str]:
    """The threshold the engine answers with, and where it comes from: an explicit override,
    settings.abstain_threshold, or (settings None) the answerer's own calibrated default."""
    if override is not None:
        return float(override), "--threshold"
    if engine.settings.abstain_threshold is not None:
        return float(engine.settings.abstain_threshold), "settings"
    t = getattr(engine.answerer, "threshold", None)
    if t is None:
        raise EvalError("cannot tell the engine's abstention threshold; pass --threshold")
    return float(t), "calibrated default"


def run_eval(engine_or_url, questions: Sequence[dict], *, top_k: int = 5, modes: Sequence[str] | None = None,
             threshold: float | None = None, grid: Sequence[float] | None = None, progress: bool = True,
             client=None, api_key: str | None = None, timeout: float = 60.0, ready_timeout: float = 30.0,
             max_wrongly_abstained: float = MAX_WRONGLY_ABSTAINED) -> dict:
    """Evaluate an Engine (in-process) or a server URL on `questions`; returns the whole report
    as plain data (see eval/README.md). In-process, `threshold` defaults to the engine's
    settings.abstain_threshold (when that is None, the answerer's calibrated threshold); `modes`
    defaults to hybrid, dense and bm25. With a URL the server's answers are scored as they are:
    no sweep, no mode table."""
    questions = list(questions)
    started = time.perf_counter()
    grid = list(grid) if grid is not None else M.threshold_grid()
    meta: dict[str, Any] = {"n_questions": len(questions), "top_k": top_k, "max_answer_words": MAX_ANSWER_WORDS,
                            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if isinstance(engine_or_url, str):
        import httpx

        url = engine_or_url
        meta.update(source="http", url=url, threshold=None, threshold_source="server",
                    display_threshold=threshold)  # only drawn on the chart: the server applies its own
        own = client is None
        client = client or httpx.Client(timeout=timeout, headers=_headers(api_key))
        try:
            _wait_ready(client, url, questions[0]["question"], top_k, ready_timeout)  # reachability + warm-up
            rows = []
            for q in _bar(questions, progress, "eval", len(questions)):
                resp, wall = _post_ask(client, url, q["question"], top_k)
                rows.append(score_response(q, resp, wall, top_k))
        finally:
            if own:
                client.close()
        mode_table, sweep_points, recommended = None, None, None
        final = [at_threshold(r, None) for r in rows]
    else:
        engine = engine_or_url
        conf_t, source = configured_threshold(engine, threshold)
        meta.update(source="in-process", index_dir=str(engine.settings.index_dir), mode=engine.retriever.mode,
                    threshold=conf_t, threshold_source=source,
                    model=getattr(engine.embedder, "model_name", None))
        modes = list(DEFAULT_MODES if modes is None else modes)
        rows, mode_table = _run_inprocess(engine, questions, top_k, modes, progress)
        grid = sorted(set(grid) | {conf_t})  # the configured threshold always gets its row
        sweep_points = [{k: _r(v) for k, v in p.items()} for p in M.sweep(rows, grid)]
        recommended = M.recommend_threshold(M.sweep(rows, grid), max_wrongly_abstained)
        final = [at_threshold(r, conf_t) for r in rows]
    meta["elapsed_s"] = round(time.perf_counter() - started, 2)
    return {
        "meta": meta,
        "headline": aggregate(final),
        "per_kind": per_kind(final),
        "modes": mode_table,
        "sweep": sweep_points,
        "recommended_threshold": recommended,
        "max_wrongly_abstained": max_wrongly_abstained,
        "failures": failures(final),
        "questions": final,
    }


# ---- CLI ------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS), help="the question set (JSON lines)")
    parser.add_argument("--url", default=None, help="evaluate a running server (POST {url}/api/ask) instead of in-process")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where report.json, report.md and report.png go")
    parser.add_argument("--top-k", type=int, default=5, help="passages per question (default 5)")
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES),
                        help="retrieval modes to compare in-process (comma-separated; '' to skip)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="abstention threshold for the headline numbers (default: settings.abstain_threshold, "
                             "else the answerer's calibrated one)")
    parser.add_argument("--index-dir", default=None, help="the index to evaluate (default: settings.index_dir)")
    parser.add_argument("--api-key", default=None, help="API key for --url (default: CITEQA_API_KEY)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--squad", default=None, metavar="FILE",
                        help="evaluate on a SQuAD 2.0 JSON file instead (its articles become a temporary index)")
    parser.add_argument("--limit", type=int, default=None, help="with --squad: this many questions, spread evenly")
    parser.add_argument("--closed", action="store_true",
                        help="with --squad: the reader alone, handed each question's own paragraph")


def _fail(msg: str) -> int:
    print(f"citeqa eval: error: {msg}", file=sys.stderr)
    return EXIT_ERROR


def _load_engine(args: argparse.Namespace):
    from index.stores.factory import index_exists
    from service.engine import Engine, EngineError
    from service.config import Settings

    overrides = {"index_dir": Path(args.index_dir)} if getattr(args, "index_dir", None) else {}
    settings = Settings(**overrides)
    missing = not index_exists(settings.store_config())
    try:
        if missing:
            print(f"citeqa eval: no index in {settings.index_dir}; building it from {settings.seeds_dir}", file=sys.stderr)
        return Engine.load(settings, ingest_if_needed=missing)
    except EngineError as exc:
        raise EvalError(f"cannot open the index in {settings.index_dir}: {exc}") from exc


def main(args: argparse.Namespace) -> int:
    from eval import report

    if getattr(args, "squad", None):
        from eval import squad

        return squad.main(args)

    try:
        questions = load_questions(getattr(args, "questions", None) or DEFAULT_QUESTIONS)
        modes = [m.strip() for m in (getattr(args, "modes", None) or "").split(",") if m.strip()]
        bad = [m for m in modes if m not in DEFAULT_MODES]
        if bad:
            return _fail(f"unknown retrieval mode(s) {bad}; choose from {', '.join(DEFAULT_MODES)}")
        top_k = getattr(args, "top_k", 5) or 5
        if not 1 <= top_k <= 20:
            return _fail("--top-k must be between 1 and 20")
        progress = not getattr(args, "no_progress", False)
        url = getattr(args, "url", None)
        threshold = getattr(args, "threshold", None)
        if url:
            if threshold is not None:
                print("citeqa eval: --threshold is ignored with --url (the server's answers are scored as they are)",
                      file=sys.stderr)
            api_key = getattr(args, "api_key", None) or os.environ.get("CITEQA_API_KEY")
            if threshold is None:  # for the chart only: the threshold a server started here would use
                from service.config import Settings

                threshold = Settings().abstain_threshold
                if threshold is None:
                    try:
                        from service.answerers.extractive.answerer import load_calibration

                        threshold = float(load_calibration()["threshold"])
                    except (ImportError, OSError, KeyError, ValueError):
                        threshold = None
            result = run_eval(url, questions, top_k=top_k, progress=progress, api_key=api_key, threshold=threshold)
        else:
            engine = _load_engine(args)
            try:
                result = run_eval(engine, questions, top_k=top_k, modes=modes, threshold=threshold, progress=progress)
            finally:
                engine.close()
    except EvalError as exc:
        return _fail(str(exc))
    qpath = Path(getattr(args, "questions", None) or DEFAULT_QUESTIONS)
    result["meta"]["questions_file"] = str(qpath)
    result["meta"]["questions_sha256"] = hashlib.sha256(qpath.read_bytes()).hexdigest()
    out = Path(getattr(args, "out", None) or DEFAULT_OUT)
    try:
        paths = report.write_all(result, out)
    except OSError as exc:
        return _fail(f"cannot write the report to {out}: {exc}")
    print(report.terminal_summary(result))
    print("\nreport: " + ", ".join(str(p) for p in paths))
    return EXIT_OK

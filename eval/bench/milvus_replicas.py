"""Two `citeqa serve` replicas on one `citeqa milvus-server` against one replica on the embedded store,
over the same real articles and questions (issue 27's done-when):

- ingest throughput into the server with `citeqa ingest --workers 1` and `--workers 2` (each into
  its own collections), and into the embedded store;
- N questions (an even spread over the articles' SQuAD questions), each asked to the embedded
  replica and to one Milvus replica (alternately a and b), interleaved so both see the same load:
  how many answers are the same, SQuAD F1 of each, ask p50/p95 as the client sees it;
- an add through replica a seen by b, and b's delete of it seen by a.

    python -m eval.bench.milvus_replicas [--articles 10] [--questions 300] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from eval import squad, squad_metrics as sm
from eval.bench.common import DEFAULT_OUT, citeqa_bin, free_port, machine_info, ms_stats
from eval.bench.real_corpus import SOURCE, _load

KEY = "bench-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _seconds_until(url: str, status: int, limit_s: float = 30.0) -> float | None:
    """How long until GET url answers `status` (polled every 0.1 s), or None after limit_s."""
    t = time.perf_counter()
    while time.perf_counter() - t < limit_s:
        if httpx.get(url, timeout=30).status_code == status:
            return time.perf_counter() - t
        time.sleep(0.1)
    return None


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", CITEQA_API_KEY=KEY, **extra)
    return env


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready:\n{log.read_text()[-3000:]}")


def _ingest(corpus: Path, workdir: Path, workers: int, env: dict) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([citeqa_bin(), "ingest", "--workers", str(workers), str(corpus)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    s = time.perf_counter() - t
    return {"workers": workers, "seconds": round(s, 1), "summary": proc.stdout.strip().splitlines()[-1]}


def _serve(name: str, tmp: Path, env: dict, procs: list) -> str:
    port = free_port()
    (tmp / name).mkdir(exist_ok=True)
    log = tmp / name / "serve.log"
    proc = subprocess.Popen([citeqa_bin(), "serve", "--index-dir", str(tmp / "embedded-index"), "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tmp / name, env=env, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT)
    procs.append(proc)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc, log)
    return url


def _ask(url: str, q: str) -> tuple[dict, float]:
    t = time.perf_counter()
    r = httpx.post(url + "/api/ask", json={"question": q}, timeout=120)
    ms = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return r.json(), ms


def _see_each_other(a: str, b: str) -> dict:
    doc = {"doc_id": "bench-quillport", "title": "Quillport harbour",
           "text": "The harbour of Quillport shipped 4,200 tonnes of zinc in May 2024."}
    httpx.post(a + "/api/documents", json=doc, headers=AUTH, timeout=120).raise_for_status()
    seen = _seconds_until(b + "/api/documents/bench-quillport", 200)
    httpx.delete(b + "/api/documents/bench-quillport", headers=AUTH, timeout=60).raise_for_status()
    gone = _seconds_until(a + "/api/documents/bench-quillport", 404)
    return {"b_sees_a_add_s": None if seen is None else round(seen, 2),
            "a_sees_b_delete_s": None if gone is None else round(gone, 2)}


def run(articles: int, n_questions: int, tmp: Path) -> dict:
    data = _load(SOURCE)[:articles]
    qs = squad.questions(data, limit=n_questions)
    corpus = tmp / "corpus"
    squad.write_corpus(data, corpus)
    procs: list[subprocess.Popen] = []
    out: dict = {"articles": len(data), "questions": len(qs)}
    try:
        port = free_port()
        server = subprocess.Popen([citeqa_bin(), "milvus-server", "--data-dir", str(tmp / "milvus"), "--port", str(port)],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(server)
        assert "listening" in server.stdout.readline()
        uri = f"http://127.0.0.1:{port}"
        milvus = {"CITEQA_STORE": "milvus", "CITEQA_MILVUS_URI": uri}
        emb_env = _env(CITEQA_INDEX_DIR=str(tmp / "embedded-index"))
        out["ingest"] = {
            "embedded": _ingest(corpus, tmp, 1, emb_env),
            "milvus_workers_1": _ingest(corpus, tmp, 1, _env(**milvus, CITEQA_MILVUS_PREFIX="w1")),
            "milvus_workers_2": _ingest(corpus, tmp, 2, _env(**milvus)),
        }
        emb = _serve("emb", tmp, emb_env, procs)
        a = _serve("a", tmp, _env(**milvus), procs)
        b = _serve("b", tmp, _env(**milvus), procs)
        rows = {"embedded": [], "milvus": []}
        times = {"embedded": [], "milvus": []}
        same = 0
        for i, q in enumerate(qs):
            order = [("embedded", emb), ("milvus", a if i % 2 == 0 else b)]
            got = {}
            for kind, url in (order if i % 2 == 0 else order[::-1]):  # neither always goes first
                resp, ms = _ask(url, q["question"])
                times[kind].append(ms / 1000)
                rows[kind].append(sm.open_row(q, resp, ms, 5))
                got[kind] = rows[kind][-1]["short_answer"]  # "" when it abstained
            same += sm.normalize(got["embedded"]) == sm.normalize(got["milvus"])
        out["same_answer_share"] = round(same / len(qs), 3)
        for kind in rows:
            summ = sm.open_summary(rows[kind])
            out[kind] = {"ask": ms_stats(times[kind]), **{k: summ[k] for k in ("contains", "short_f1", "noans", "overall")}}
        out["p50_ratio"] = round(out["milvus"]["ask"]["p50_ms"] / out["embedded"]["ask"]["p50_ms"], 2)
        out["replicas"] = _see_each_other(a, b)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.articles, args.questions, Path(tmp))
    result["machine"] = machine_info()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "milvus_replicas.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`citeqa bench`: speed is measured by benchmarks, not by timed unit tests.

    citeqa bench [--part query|load|ingest|growth|upload|all] [--quick] [--out DIR]

  query   in-process engine.ask p50/p95 over the eval questions, by stage, next to the bare cost
          of embedding one query (target: end-to-end / bare embedding <= 1.5)
  load    `citeqa serve` on a copy of the index; 1, 8 and 32 concurrent clients on POST /api/ask
          (30 s each; --quick 5 s): requests/s, p50/p95/p99, errors, server RSS
  ingest  ~2,000 generated articles (--quick 200) through the real ingest; documents, chunks and
          sentences per second, time split, and a re-run after 1% of the articles changed
  growth  FAISS Flat / HNSW / IVF through DenseIndex at 10k, 100k, 1M vectors (--quick: 10k,
          100k): build time, memory, single-query p50/p95, recall@10
  upload  ask p50/p95 idle and while a 500 KB article (--quick 100 KB) is uploaded through the
          engine's write path (target: p95 during <= 3x idle)

Each part prints a table and is merged into DIR/bench.json (default bench/out) with the machine it
ran on; growth also draws DIR/growth.png and load DIR/load.png. The exit status is 0 when every
requested part ran (targets missed are reported, not failed) and 2 when a part could not run.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from eval.bench.common import DEFAULT_OUT, QUESTIONS, load_questions, machine_info, merge_json, now_iso, table

PARTS = ("query", "load", "ingest", "growth", "upload")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--part", choices=(*PARTS, "all"), default="all", help="which benchmark to run (default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes and short runs (a few minutes in all)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--index-dir", type=Path, default=None,
                   help="index for the query and load parts (default: the configured one; built from seeds/ "
                        "into a temporary folder when there is none)")
    p.add_argument("--questions-file", type=Path, default=QUESTIONS)
    p.add_argument("--questions", type=int, default=None, help="use only the first N questions")
    p.add_argument("--rounds", type=int, default=None, help="query: passes over the questions (default 3; quick 1)")
    p.add_argument("--profile", action="store_true", help="query: also write a cProfile of engine.ask")
    p.add_argument("--clients", default="1,8,32", help="load: concurrency levels (default 1,8,32)")
    p.add_argument("--duration", type=float, default=None, help="load: seconds per level (default 30; quick 5)")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                   help="load: an extra environment variable for the server (repeatable), e.g. MALLOC_ARENA_MAX=2")
    p.add_argument("--docs", type=int, default=None, help="ingest: articles to generate (default 2000; quick 200)")
    p.add_argument("--seed", type=int, default=13, help="ingest: corpus seed")
    p.add_argument("--real-articles", type=int, default=10,
                   help="ingest: also this many real long articles (SQuAD training file; 0: none)")
    p.add_argument("--sizes", default=None, help="growth: comma-separated vector counts "
                                                 "(default 10000,100000,1000000; quick 10000,100000)")
    p.add_argument("--growth-data", choices=("manifold", "isotropic"), default="manifold",
                   help="growth: shape of the synthetic topics (default manifold: low intrinsic dimension)")
    p.add_argument("--upload-kb", type=int, default=500, help="upload: size of the uploaded article (quick: 1/5)")
    p.add_argument("--upload-kind", choices=("text", "nopunct"), default="text",
                   help="upload: an article, or the same without punctuation (the worst case for chunking)")
    p.add_argument("--growth-budget", type=float, default=1200.0,
                   help="growth: seconds after which the remaining index types are skipped (default 1200)")


def _sizes(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        mult = 1_000_000 if part.endswith("m") else 1_000 if part.endswith("k") else 1
        out.append(int(float(part.rstrip("mk")) * mult))
    return tuple(out)


class _Context:
    """What the parts share: settings, the model (loaded once), the index to query."""

    def __init__(self, args: argparse.Namespace):
        from service.config import Settings

        self.args = args
        overrides = {"index_dir": Path(args.index_dir)} if getattr(args, "index_dir", None) else {}
        self.settings = Settings(**overrides)
        self._embedder = None
        self._tmp: list[Path] = []
        self._index_dir: Path | None = None

    @property
    def embedder(self):
        if self._embedder is None:
            from index.embedding.embedder import Embedder

            s = self.settings
            self._embedder = Embedder.from_config(s.embedder_config())
        return self._embedder

    def index_dir(self) -> Path:
        """The configured index, or one built from the seeds in a temporary folder."""
        if self._index_dir is None:
            from index.stores.factory import index_exists

            d = Path(self.settings.index_dir)
            if index_exists(self.settings.model_copy(update={"store": "embedded"}).store_config()):
                self._index_dir = d
            else:
                from index.stores.sqlite.index import HybridIndex
                from index.ingest import ingest

                tmp = Path(tempfile.mkdtemp(prefix="citeqa-bench-index-"))
                self._tmp.append(tmp)
                s = self.settings.model_copy(update={"index_dir": tmp / "index"})
                print(f"(no index in {d}: building one from {s.seeds_dir} in {tmp})", flush=True)
                idx = HybridIndex.from_config(s.store_config(), self.embedder, create=True, for_writing=True)
                ingest(idx, [s.seeds_dir], progress=False)
                idx.close()
                self._index_dir = tmp / "index"
        return self._index_dir

    def close(self) -> None:
        for t in self._tmp:
            shutil.rmtree(t, ignore_errors=True)


def run_query(ctx: _Context) -> tuple[dict, str]:
    from eval.bench import query as bench_query
    from service.engine import Engine

    a = ctx.args
    questions = load_questions(a.questions_file, a.questions)
    settings = ctx.settings.model_copy(update={"index_dir": ctx.index_dir()})
    engine = Engine.load(settings)  # its own embedder, configured as the service's (one ONNX thread)
    try:
        rounds = a.rounds or (1 if a.quick else 3)
        res = bench_query.run(engine, questions, rounds=rounds, warmup=1, top_k=settings.top_k,
                              profile_to=(a.out / "query_profile.txt") if a.profile else None)
    finally:
        engine.close()
    return res, bench_query.report(res)


def run_load(ctx: _Context) -> tuple[dict, str]:
    from eval.bench import load as bench_load

    a = ctx.args
    levels = tuple(int(x) for x in a.clients.split(",") if x.strip())
    duration = a.duration or (5.0 if a.quick else 30.0)
    questions = load_questions(a.questions_file, a.questions)
    extra = dict(kv.split("=", 1) for kv in a.server_env)
    res = bench_load.run(ctx.index_dir(), questions, levels=levels, duration=duration, out_dir=a.out,
                         top_k=ctx.settings.top_k, server_env=extra)
    png = bench_load.chart(res, a.out / "load.png")
    if png:
        res["chart"] = str(png)
    return res, bench_load.report(res)


def run_ingest(ctx: _Context) -> tuple[dict, str]:
    from eval.bench import ingest as bench_ingest

    a = ctx.args
    n = a.docs or (200 if a.quick else 2000)
    res = bench_ingest.run(ctx.embedder, ctx.settings, n_docs=n, seed=a.seed)
    text = bench_ingest.report(res)
    if a.real_articles:  # real long articles beside the generated ones (issue 26)
        res["real"] = bench_ingest.run_real(ctx.embedder, ctx.settings, 2 if a.quick else a.real_articles)
        text += "\n\n" + bench_ingest.report_real(res["real"])
    return res, text


def run_growth(ctx: _Context) -> tuple[dict, str]:
    from eval.bench import growth as bench_growth

    a = ctx.args
    sizes = _sizes(a.sizes) if a.sizes else ((10_000, 100_000) if a.quick else (10_000, 100_000, 1_000_000))
    res = bench_growth.run(sizes=sizes, time_budget_s=a.growth_budget, kind=a.growth_data,
                           log=lambda m: print(m, flush=True))
    png = bench_growth.chart(res, a.out / "growth.png")
    if png:
        res["chart"] = str(png)
    return res, bench_growth.report(res)


def run_upload(ctx: _Context) -> tuple[dict, str]:
    """On a copy of the index: the upload is deleted afterwards, but a bench must not touch it."""
    from eval.bench import upload as bench_upload
    from service.engine import Engine

    a = ctx.args
    questions = load_questions(a.questions_file, a.questions)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "index"
        shutil.copytree(ctx.index_dir(), copy)
        engine = Engine.load(ctx.settings.model_copy(update={"index_dir": copy}))
        try:
            res = bench_upload.run(engine, questions, n_bytes=a.upload_kb * 1000 // (5 if a.quick else 1),
                                   kind=a.upload_kind, top_k=ctx.settings.top_k)
        finally:
            engine.close()
    return res, bench_upload.report(res)


RUNNERS = {"query": run_query, "load": run_load, "ingest": run_ingest, "growth": run_growth, "upload": run_upload}


def _load_available() -> str | None:
    """Why the load part cannot run, or None."""
    try:
        import service.server.app  # noqa: F401
    except ImportError as exc:
        return f"the service is not there yet (service.server.app: {exc})"
    return None


def targets_summary(data: dict) -> str:
    rows = []
    parts = data.get("parts", {})
    q = parts.get("query")
    if q:
        if q.get("answerer") == "reader":  # the reader's own target (issue 14): ask p50 in ms
            rows.append(["query", f"ask p50 <= {q['target_p50_ms']} ms (reader)", q["e2e_ask"]["p50_ms"],
                         q["target_p50_met"]])
        else:
            rows.append(["query", f"ask / bare embedding p50 <= {q['target_ratio']}", q["ratio_p50"], q["target_met"]])
    ld = parts.get("load")
    if ld and "targets" in ld:
        t = ld["targets"]
        rows.append(["load", "0 errors", sum(lv["errors"] for lv in ld["levels"]), t["zero_errors"]])
        rows.append(["load", "req/s at 8 clients >= 1.6 x at 1", ld["scaling_8_over_1"],
                     t["throughput_8_over_1_ge_1.6"]])
        top = ld["levels"][-1] if ld["levels"] else None
        rows.append(["load", f"p95 at {top['clients'] if top else '?'} clients bounded",
                     top["latency"]["p95_ms"] if top else None, t["p95_at_max_clients_bounded"]])
        rep = ld.get("repeat_of_top_level")
        if rep:
            rows.append(["load", "no server RSS growth (repeat of top level, MiB)", rep["server_rss_growth_mib"],
                         t.get("no_rss_growth_in_repeat")])
    ig = parts.get("ingest")
    if ig:
        rows.append(["ingest", f">= {ig['target_chunks_per_s']:.0f} chunks/s", ig["full"].get("chunks_per_s"),
                     ig["target_met"]])
    gr = parts.get("growth")
    if gr:
        big = max(gr["sizes"], key=lambda s: s["n"]) if gr["sizes"] else None
        if big:
            ok = [i["label"] for i in big["indexes"] if i.get("meets_targets")]
            rows.append(["growth", f"at {big['n']:,}: p50 <= 10 ms, recall >= 0.95, <= 0.6 GB",
                         ", ".join(ok) or "none", bool(ok)])
    if parts.get("upload"):
        from eval.bench.upload import targets as upload_targets

        rows += [["upload", *row] for row in upload_targets(parts["upload"])]
    return table(["part", "target", "measured", "met"], rows, "TARGETS") if rows else ""


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    args.out = out
    parts = PARTS if args.part == "all" else (args.part,)
    machine = machine_info()
    ctx = _Context(args)
    status = 0
    data: dict = {}
    try:
        for part in parts:
            print(f"\n=== bench {part}{' (quick)' if args.quick else ''} ===", flush=True)
            started, t0 = now_iso(), time.perf_counter()
            if part == "load":
                why = _load_available()
                if why:
                    print(f"load: skipped: {why}")
                    data = merge_json(out / "bench.json", part, {"skipped": why, "started_at": started}, machine)
                    status = 2
                    continue
            try:
                res, text = RUNNERS[part](ctx)
            except Exception as exc:  # one part failing must not lose the others' results
                traceback.print_exc()
                print(f"{part}: failed: {exc}", file=sys.stderr)
                data = merge_json(out / "bench.json", part, {"error": f"{type(exc).__name__}: {exc}",
                                                             "started_at": started}, machine)
                status = 2
                continue
            res = {"quick": bool(args.quick), "started_at": started, "wall_s": round(time.perf_counter() - t0, 1),
                   **res}
            data = merge_json(out / "bench.json", part, res, machine)
            print(text, flush=True)
    finally:
        ctx.close()
    summary = targets_summary(data)
    if summary:
        print("\n" + summary)
    print(f"\nresults: {out / 'bench.json'}" + (f", {out / 'growth.png'}" if (out / "growth.png").exists() else "")
          + (f", {out / 'load.png'}" if (out / "load.png").exists() else ""))
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m eval.bench.run", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))

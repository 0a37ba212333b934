"""The service under load: `citeqa serve` on a copy of the index, then concurrent clients.

The server runs as a subprocess on 127.0.0.1 (a free port); every client is an asyncio task of
one httpx.AsyncClient bounded to as many connections as there are clients, each sending
`POST /api/ask {"question", "top_k"}` with the eval questions in turn. Every loop is bounded in
time (the level's duration, the per-request timeout, the readiness timeout) and in count
(max_requests per level). No traffic leaves 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from eval.bench.common import free_port, mib, ms_stats, ratio, rss_bytes, system_load

HOST = "127.0.0.1"
TARGET_SCALING = 1.6  # throughput at 8 clients / at 1 client


class ServerError(RuntimeError):
    pass


def server_command(index_dir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "service.cli", "serve", "--index-dir", str(index_dir), "--host", HOST,
            "--port", str(port)]


class Server:
    """A `citeqa serve` subprocess; stopped (by its own pid) on exit."""

    def __init__(self, cmd: list[str], base_url: str, log_path: Path, ready_timeout: float = 180.0,
                 env: dict | None = None):
        self.cmd, self.base_url, self.log_path, self.ready_timeout = cmd, base_url, Path(log_path), ready_timeout
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None

    def __enter__(self) -> "Server":
        import httpx

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self.__exit__(None, None, None)
                    raise ServerError(f"the server exited with {self.proc.returncode} before it was ready:\n"
                                      + self.log_tail())
                try:
                    if client.get("/readyz").status_code == 200:
                        self.startup_s = time.perf_counter() - t0
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        self.__exit__(None, None, None)
        raise ServerError(f"the server was not ready within {self.ready_timeout:.0f} s:\n" + self.log_tail())

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __exit__(self, *exc) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            # SIGTERM first: uvicorn shuts down as gracefully on it as on SIGINT, and a server started from
            # a background job (CI) inherits SIGINT ignored, so SIGINT first cost a 20 s wait per server
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGINT, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)  # the group of the process started above, and only it
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if getattr(self, "_log", None):
            self._log.close()


def _threads(pid: int | None) -> int | None:
    if not pid:
        return None
    try:
        import psutil

        return psutil.Process(pid).num_threads()
    except Exception:
        return None


def _cpu_seconds(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except Exception:
        return None


async def _level(base_url: str, questions: list[str], clients: int, duration: float, top_k: int,
                 max_requests: int, timeout: float) -> dict:
    import httpx

    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors: Counter = Counter()
    counter = itertools.count()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout, trust_env=False) as client:
        deadline = loop.time() + duration

        async def worker() -> None:
            while loop.time() < deadline:
                i = next(counter)
                if i >= max_requests:
                    return
                q = questions[i % len(questions)]
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/ask", json={"question": q, "top_k": top_k})
                    if r.status_code != 200:
                        errors[f"HTTP {r.status_code}"] += 1
                        continue
                    if "answer" not in r.json():
                        errors["no answer in the response"] += 1
                        continue
                except httpx.TimeoutException:
                    errors["timeout"] += 1
                    continue
                except (httpx.HTTPError, ValueError) as exc:
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    stats = ms_stats(latencies, ps=(50, 95, 99))
    return {
        "clients": clients,
        "duration_s": round(elapsed, 2),
        "requests_ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "rps": round(len(latencies) / elapsed, 2) if elapsed else None,
        "latency": stats,
    }


def run_level(base_url: str, questions: list[str], clients: int, duration: float, top_k: int = 5,
              max_requests: int = 100_000, timeout: float = 60.0) -> dict:
    return asyncio.run(_level(base_url, questions, clients, duration, top_k, max_requests, timeout))


def run(index_dir: Path, questions: list[str], levels: tuple[int, ...] = (1, 8, 32), duration: float = 30.0,
        out_dir: Path | None = None, top_k: int = 5, warmup_requests: int = 20, ready_timeout: float = 180.0,
        cmd: list[str] | None = None, repeat_top: bool = True, server_env: dict | None = None) -> dict:
    """Serve a private copy of index_dir and load it level by level. `cmd` (with {index_dir} and
    {port} placeholders) replaces `citeqa serve`, for tests."""
    out_dir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="citeqa-bench-"))
    work = Path(tempfile.mkdtemp(prefix="citeqa-load-"))
    try:
        copy = work / "index"
        shutil.copytree(index_dir, copy)
        port = free_port()
        base_url = f"http://{HOST}:{port}"
        argv = [a.format(index_dir=copy, port=port) for a in cmd] if cmd else server_command(copy, port)
        env = dict(os.environ)
        env.pop("CITEQA_API_KEY", None)  # the benchmark measures the open API
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env.update(server_env or {})
        load_before = system_load()
        with Server(argv, base_url, out_dir / "load_server.log", ready_timeout, env) as server:
            warm = run_level(base_url, questions, 1, duration=60.0, top_k=top_k, max_requests=warmup_requests)
            results = []
            # the top level runs twice: the first pass at a level grows the server once (worker
            # threads, larger model batches); a leak would keep growing it in the repeat
            plan = [(c, False) for c in levels] + ([(levels[-1], True)] if repeat_top and levels else [])
            for clients, repeat in plan:
                rss0, cpu0 = rss_bytes(server.pid, children=True), _cpu_seconds(server.pid)
                threads0 = _threads(server.pid)
                res = run_level(base_url, questions, clients, duration, top_k)
                rss1, cpu1 = rss_bytes(server.pid, children=True), _cpu_seconds(server.pid)
                res["repeat"] = repeat
                res["server_threads_before"], res["server_threads_after"] = threads0, _threads(server.pid)
                res["server_rss_mib_before"], res["server_rss_mib_after"] = mib(rss0), mib(rss1)
                res["server_rss_growth_mib"] = mib(rss1 - rss0) if rss0 is not None and rss1 is not None else None
                if cpu0 is not None and cpu1 is not None and res["duration_s"]:
                    res["server_cpu_cores_busy"] = round((cpu1 - cpu0) / res["duration_s"], 2)
                results.append(res)
            startup = server.startup_s
        repeats = [r for r in results if r["repeat"]]
        results = [r for r in results if not r["repeat"]]
        rep = repeats[0] if repeats else None
        by = {r["clients"]: r for r in results}
        scaling = ratio(by.get(8, {}).get("rps"), by.get(1, {}).get("rps"))
        total_errors = sum(r["errors"] for r in results + repeats) + warm["errors"]
        no_growth = None
        if rep and rep["server_rss_growth_mib"] is not None and rep["server_rss_mib_before"]:
            no_growth = rep["server_rss_growth_mib"] <= max(32.0, 0.05 * rep["server_rss_mib_before"])
        top = by.get(max(levels))
        bounded = None
        if top and top["rps"] and top["latency"]["p95_ms"] is not None:
            little_ms = top["clients"] / top["rps"] * 1000  # mean latency a fair saturated server gives
            bounded = top["errors"] == 0 and top["latency"]["p95_ms"] <= 2 * little_ms
        rss_first = results[0]["server_rss_mib_before"] if results else None
        rss_last = results[-1]["server_rss_mib_after"] if results else None
        return {
            "server": {"command": " ".join(argv), "extra_env": server_env or {},
                       "startup_s": round(startup, 2) if startup else None,
                       "index_copy": str(copy), "log": str(out_dir / "load_server.log")},
            "levels": results,
            "repeat_of_top_level": rep,
            "warmup": {"requests_ok": warm["requests_ok"], "errors": warm["errors"]},
            "duration_per_level_s": duration,
            "top_k": top_k,
            "questions": len(questions),
            "scaling_8_over_1": scaling,
            "rss_growth_total_mib": round(rss_last - rss_first, 1) if rss_first is not None and rss_last is not None else None,
            "targets": {
                "zero_errors": total_errors == 0,
                f"throughput_8_over_1_ge_{TARGET_SCALING}": (scaling or 0) >= TARGET_SCALING,
                "p95_at_max_clients_bounded": bounded,
                "no_rss_growth_in_repeat": no_growth,
                "no_rss_growth_means": "server RSS grows by at most max(32 MiB, 5%) over the repeat of the top level",
                "bounded_means": "no errors and p95 <= 2 x (clients / requests per s), the mean latency of a "
                                 "fair saturated server (Little's law)",
            },
            "load_before": load_before,
            "load_after": system_load(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(res: dict) -> str:
    from eval.bench.common import table

    rows = []
    for r in res["levels"] + ([res["repeat_of_top_level"]] if res.get("repeat_of_top_level") else []):
        lat = r["latency"]
        rows.append([f"{r['clients']}{' (repeat)' if r.get('repeat') else ''}", r["requests_ok"], r["errors"], r["rps"], lat["p50_ms"], lat["p95_ms"], lat["p99_ms"],
                     r["server_rss_mib_before"], r["server_rss_mib_after"], r.get("server_threads_after"),
                     r.get("server_cpu_cores_busy")])
    text = table(["clients", "ok", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "RSS MiB before", "after",
                  "threads after", "server cores busy"], rows,
                 f"SERVICE UNDER LOAD  ({res['duration_per_level_s']:.0f} s per level, POST /api/ask, "
                 f"server ready in {res['server']['startup_s']} s)")
    t = res["targets"]
    text += (f"\nthroughput 8 clients / 1 client: {res['scaling_8_over_1']} (target >= {TARGET_SCALING}: "
             f"{'met' if t[f'throughput_8_over_1_ge_{TARGET_SCALING}'] else 'NOT met'}); "
             f"errors: {'none' if t['zero_errors'] else 'SOME'}; p95 at the top level bounded: "
             f"{t['p95_at_max_clients_bounded']}; server RSS growth over the first passes: "
             f"{res['rss_growth_total_mib']} MiB, over the repeat of the top level: "
             f"{(res.get('repeat_of_top_level') or {}).get('server_rss_growth_mib')} MiB "
             f"(no growth: {t.get('no_rss_growth_in_repeat')})")
    return text


def chart(res: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    lv = res["levels"]
    x = [r["clients"] for r in lv]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(x, [r["rps"] for r in lv], "o-")
    a1.set_xscale("log", base=2)
    a1.set_xlabel("concurrent clients")
    a1.set_ylabel("requests / s")
    a1.set_title("throughput")
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")):
        a2.plot(x, [r["latency"][key] for r in lv], style, label=key.replace("_ms", ""))
    a2.set_xscale("log", base=2)
    a2.set_yscale("log")
    a2.set_xlabel("concurrent clients")
    a2.set_ylabel("latency (ms)")
    a2.set_title("POST /api/ask latency")
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

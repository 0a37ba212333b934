"""Helpers shared by the benchmark parts: percentiles, machine facts, RSS, tables, the JSON file."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import socket
import sys
import time
from pathlib import Path

import numpy as np

from service.config import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "bench" / "out"
QUESTIONS = REPO_ROOT / "eval" / "questions.jsonl"


# ---- processes -------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the benchmarks' and tests' servers bind it next)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def citeqa_bin() -> str:
    """This environment's `citeqa` program: beside the running interpreter, else on PATH."""
    exe = Path(sys.executable).with_name("citeqa")
    return str(exe) if exe.exists() else shutil.which("citeqa") or str(REPO_ROOT / ".venv" / "bin" / "citeqa")


# ---- numbers ---------------------------------------------------------------------------------
def ms_stats(seconds: list[float] | np.ndarray, ps: tuple[int, ...] = (50, 95)) -> dict:
    """{"n", "mean_ms", "p50_ms", "p95_ms", ...} of a list of durations in seconds."""
    a = np.asarray(seconds, dtype=np.float64) * 1000.0
    if a.size == 0:
        return {"n": 0, "mean_ms": None, **{f"p{p}_ms": None for p in ps}}
    out = {"n": int(a.size), "mean_ms": round(float(a.mean()), 3)}
    for p in ps:
        out[f"p{p}_ms"] = round(float(np.percentile(a, p)), 3)
    out["max_ms"] = round(float(a.max()), 3)
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# ---- the machine -----------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info() -> dict:
    cpuinfo = _read("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), None)
    meminfo = _read("/proc/meminfo")
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), None)
    info = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor() or None,
        "ram_gib": round(mem_kb / 1024**2, 1) if mem_kb else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ},
    }
    for mod in ("numpy", "faiss", "torch", "sentence_transformers"):
        try:
            m = __import__(mod)
            info[f"{mod}_version"] = getattr(m, "__version__", None)
        except ImportError:
            pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def system_load() -> dict:
    """Load average and CPU pressure now: the machine may be shared, so every part records it."""
    out: dict = {}
    try:
        out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    psi = _read("/proc/pressure/cpu")
    for line in psi.splitlines():
        if line.startswith("some"):
            fields = dict(kv.split("=") for kv in line.split()[1:])
            out["cpu_pressure_some_avg10"] = float(fields.get("avg10", 0))
            out["cpu_pressure_some_avg60"] = float(fields.get("avg60", 0))
    return out


def rss_bytes(pid: int | None = None, children: bool = False) -> int | None:
    """Resident set size of a process (and its children), psutil if installed, else /proc."""
    pid = pid or os.getpid()
    try:
        import psutil

        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        if children:
            for ch in proc.children(recursive=True):
                try:
                    total += ch.memory_info().rss
                except psutil.Error:
                    pass
        return int(total)
    except ImportError:
        pass
    except Exception:  # the process is gone
        return None
    status = _read(f"/proc/{pid}/status")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def mib(n: int | None) -> float | None:
    return round(n / 2**20, 1) if n is not None else None


# ---- workload --------------------------------------------------------------------------------
def load_questions(path: Path = QUESTIONS, limit: int | None = None) -> list[str]:
    qs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                qs.append(json.loads(line)["question"])
    return qs[:limit] if limit else qs


# ---- output ----------------------------------------------------------------------------------
def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if v != 0 and abs(v) < 0.01:
            return f"{v:.4f}"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = [title] if title else []
    out.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    out.append(line)
    for r in cells:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def merge_json(path: Path, part: str, result: dict, machine: dict) -> dict:
    """Merge one part's result into the JSON file (other parts' earlier results are kept)."""
    path = Path(path)
    data: dict = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
    data.setdefault("parts", {})
    data["machine"] = machine
    data["updated_at"] = now_iso()
    data["parts"][part] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))
    os.replace(tmp, path)
    return data


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


class Clock:
    """Wall and process-CPU time of a block (CPU time shows the work even on a busy machine)."""

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        return False

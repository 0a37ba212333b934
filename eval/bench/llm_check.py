"""The generative answerer's figures: time to first token, total time, and the share of claims the
check marks supported, over the team's question set, with a local LLM (llama.cpp's server from
xllamacpp and SmolLM2-135M, eval/bench/local_llm.py) or any endpoint given by --url. It shows the
check works on real model output, not that the model is good.

    python -m eval.bench.llm_check [--limit 30] [--url http://127.0.0.1:11434/v1 --model NAME] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from eval.bench.common import DEFAULT_OUT, QUESTIONS, free_port, load_questions, machine_info, table
from service.engine import Engine
from service.config import Settings


def run(engine: Engine, questions: list[str], top_k: int = 3) -> dict:
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        first = resp = None
        for kind, data in engine.stream(q, top_k=top_k, answerer="llm"):
            if kind == "token" and first is None:
                first = time.perf_counter() - t0
            elif kind == "final":
                resp = data[0]
        rows.append({"question": q, "ttft_s": first, "total_s": time.perf_counter() - t0,
                     "abstained": resp.abstained, "claims": [c.model_dump() for c in resp.claims or []]})
    claims = [c for r in rows for c in r["claims"]]
    ttft = [r["ttft_s"] for r in rows if r["ttft_s"] is not None]
    total = [r["total_s"] for r in rows]
    return {"questions": len(rows), "abstained": sum(r["abstained"] for r in rows), "claims": len(claims),
            "supported_share": round(sum(c["supported"] for c in claims) / len(claims), 3) if claims else None,
            "ttft_p50_s": round(float(np.median(ttft)), 2) if ttft else None,
            "total_p50_s": round(float(np.median(total)), 2), "total_p95_s": round(float(np.percentile(total, 95)), 2),
            "reasons": _reasons(claims), "rows": rows}


def _reasons(claims: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in claims:
        if not c["supported"]:
            key = (c["reason"] or "").split("“")[0].split("(")[0].strip() or "?"
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--url", default=None, help="an OpenAI-compatible /v1 base URL (default: start SmolLM2 locally)")
    p.add_argument("--model", default="smollm2")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=80)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args()
    questions = load_questions(QUESTIONS, args.limit)

    def go(url: str) -> dict:
        settings = Settings().model_copy(update={"llm_url": url, "llm_model": args.model,
                                                 "llm_max_tokens": args.max_tokens})
        engine = Engine.load(settings, ingest_if_needed=True)
        try:
            return run(engine, questions, args.top_k)
        finally:
            engine.close()

    if args.url:
        res = go(args.url)
    else:
        from eval.bench.local_llm import LocalLLM

        with LocalLLM(free_port()) as url:
            res = go(url)
    res["model"] = args.model
    res["machine"] = machine_info()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm_check.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(table(["questions", "abstained", "claims", "supported", "TTFT p50 s", "total p50 s", "total p95 s"],
                [[res["questions"], res["abstained"], res["claims"], res["supported_share"], res["ttft_p50_s"],
                  res["total_p50_s"], res["total_p95_s"]]], f"LLM CHECK ({args.model})"))
    print("unsupported because:", res["reasons"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

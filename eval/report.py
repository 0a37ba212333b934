"""Render an evaluation result (the dict `eval.harness.run_eval` returns): report.json, report.md,
report.png and the terminal summary."""
from __future__ import annotations

import json
from pathlib import Path

HEADLINE_ROWS = [
    ("hit@1", "retrieval hit@1 (gold article ranked first)", "pct"),
    ("hit@5", "retrieval hit@5", "pct"),
    ("mrr", "retrieval MRR", "num"),
    ("evidence_hit@5", "evidence sentence in top-5 passages", "pct"),
    ("accuracy", "answer accuracy (answerable)", "pct"),
    ("short_accuracy", "short-answer accuracy (answerable)", "pct"),
    ("short_accuracy_typed", "short-answer accuracy (when/who/where/how-many)", "pct"),
    ("citation_precision", "citation precision", "pct"),
    ("citation_recall", "citation recall", "pct"),
    ("unanswerable_abstained", "unanswerable: correctly abstained", "pct"),
    ("answerable_wrongly_abstained", "answerable: wrongly abstained (lower is better)", "pct"),
    ("overall_correct", "all questions: answered right or rightly abstained", "pct"),
    ("latency_p50_ms", "latency p50 (timings_ms.total)", "ms"),
    ("latency_p95_ms", "latency p95 (timings_ms.total)", "ms"),
    ("wall_p50_ms", "wall-clock p50 per question", "ms"),
    ("wall_p95_ms", "wall-clock p95 per question", "ms"),
]
KIND_COLS = [("n", "n", "int"), ("hit@1", "hit@1", "pct"), ("hit@5", "hit@5", "pct"), ("mrr", "MRR", "num"),
             ("evidence_hit@5", "ev-hit@5", "pct"), ("accuracy", "accuracy", "pct"),
             ("short_accuracy", "short acc.", "pct"), ("citation_precision", "cit. P", "pct"),
             ("citation_recall", "cit. R", "pct"), ("unanswerable_abstained", "abstained (unans.)", "pct"),
             ("answerable_wrongly_abstained", "wrongly abstained", "pct")]


def fmt(v, how: str = "pct") -> str:
    if v is None:
        return "—"
    if how == "pct":
        return f"{100 * v:.1f}%"
    if how == "ms":
        return f"{v:.1f} ms"
    if how == "int":
        return str(int(v))
    return f"{v:.3f}"


def _threshold_line(result: dict) -> str:
    m = result["meta"]
    if m.get("source") == "http":
        return f"server at {m.get('url')} (its answers scored as they are)"
    src = m["threshold_source"]
    return f"{m['threshold']:g} ({src if src.startswith('calibrated') else 'from ' + src})"


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"] + \
        ["| " + " | ".join(r) + " |" for r in rows]


def _md_escape(s: str | None) -> str:
    return (s or "").replace("|", "\\|").replace("\n", " ")


def _clip(s: str | None, n: int = 220) -> str:
    s = " ".join((s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


# ---- terminal -------------------------------------------------------------------------------
def terminal_summary(result: dict) -> str:
    h, m = result["headline"], result["meta"]
    width = max(len(label) for _, label, _ in HEADLINE_ROWS)
    lines = [f"citeqa eval — {m['n_questions']} questions ({h['n_answerable']} answerable, "
             f"{h['n_unanswerable']} unanswerable), {m['source']}, threshold {_threshold_line(result)}"]
    lines += [f"  {label:<{width}}  {fmt(h.get(key), how):>9}" for key, label, how in HEADLINE_ROWS]
    if result.get("modes"):
        lines.append("  retrieval modes:   " + "   ".join(
            f"{mode} hit@5 {fmt(v['hit@5'])} MRR {fmt(v['mrr'], 'num')}" for mode, v in result["modes"].items()))
    if result.get("recommended_threshold") is not None:
        lines.append(f"  recommended threshold: {result['recommended_threshold']:g} "
                     f"(most unanswerable abstained with ≤ {100 * result['max_wrongly_abstained']:.0f}% wrongly abstained)")
    return "\n".join(lines)


# ---- markdown -------------------------------------------------------------------------------
def render_markdown(result: dict, chart_name: str | None = "report.png") -> str:
    m, h = result["meta"], result["headline"]
    out = ["# citeqa evaluation", ""]
    out.append(f"- {m['n_questions']} questions: {h['n_answerable']} answerable, {h['n_unanswerable']} unanswerable")
    out.append(f"- run: {m['source']}" + (f", index `{m['index_dir']}`, retrieval `{m['mode']}`" if m.get("index_dir") else "")
               + f", top-k {m['top_k']}, {m['created']}, {m['elapsed_s']} s")
    out.append(f"- abstention threshold for these numbers: {_threshold_line(result)}")
    if result.get("recommended_threshold") is not None:
        out.append(f"- recommended threshold (sweep below): **{result['recommended_threshold']:g}**")
    out.append(f"- an answer counts only if it holds a gold answer and has at most {m['max_answer_words']} words")
    out += ["", "## Headline", ""]
    out += _table(["metric", "value"], [[label, fmt(h.get(key), how)] for key, label, how in HEADLINE_ROWS])

    out += ["", "## Per kind", "",
            "Retrieval and answer metrics are over answerable questions; for `unanswerable` only the abstention "
            "column applies.", ""]
    out += _table(["kind"] + [c[1] for c in KIND_COLS],
                  [[kind] + [fmt(v.get(key), how) for key, _, how in KIND_COLS] for kind, v in result["per_kind"].items()])

    if result.get("modes"):
        out += ["", "## Retrieval modes", "",
                "The same answerable questions retrieved with each mode (hit = a passage from a gold article).", ""]
        out += _table(["mode", "hit@1", "hit@5", "MRR", "evidence-hit@5"],
                      [[mode, fmt(v["hit@1"]), fmt(v["hit@5"]), fmt(v["mrr"], "num"), fmt(v["evidence_hit@5"])]
                       for mode, v in result["modes"].items()])

    if result.get("sweep"):
        rec = result.get("recommended_threshold")
        conf = m.get("threshold")
        out += ["", "## Abstention threshold sweep", "",
                "One pass at threshold 0 gives every question its best answer and confidence; each threshold t is "
                "simulated as *abstain iff confidence < t* (what the answerer does). Recommended: the t that abstains "
                f"on the most unanswerable questions while wrongly abstaining on ≤ {100 * result['max_wrongly_abstained']:.0f}% "
                "of answerable ones (ties: lowest t).", ""]
        rows = []
        for p in result["sweep"]:
            t = p["threshold"]
            mark = " ← recommended" if rec is not None and abs(t - rec) < 1e-9 else ""
            mark += " ← configured" if conf is not None and abs(t - conf) < 1e-9 else ""
            rows.append([f"{t:.2f}{mark}", fmt(p["unanswerable_abstained"]), fmt(p["answerable_wrongly_abstained"]),
                         fmt(p["accuracy"]), fmt(p["overall_correct"])])
        out += _table(["threshold", "unanswerable abstained", "answerable wrongly abstained", "accuracy",
                       "all correct"], rows)

    if chart_name:
        out += ["", "## Charts", "", f"![accuracy per kind and answer confidence]({chart_name})"]

    fails = result.get("failures") or []
    out += ["", f"## Failures ({len(fails)})", ""]
    if not fails:
        out.append("None.")
    by_cat: dict[str, list[dict]] = {}
    for f in fails:
        by_cat.setdefault(f["category"], []).append(f)
    for cat, items in sorted(by_cat.items(), key=lambda kv: -len(kv[1])):
        out += [f"### {cat} ({len(items)})", ""]
        for f in items:
            got = f["answer"] if f["category"] != "wrongly abstained" else \
                f"abstained (confidence {f['confidence']:.3f}); best answer: {f['best_answer']}"
            exp = " / ".join(f["expected"]) if f["expected"] else "(abstain)"
            out.append(f"- **{f['id']}** ({f['kind']}) {_md_escape(f['question'])}  ")
            out.append(f"  expected: {_md_escape(exp)}; got: {_md_escape(_clip(got))}"
                       + (f" — short answer: {_md_escape(f['short_answer'])}" if f.get("short_answer") else "")
                       + (f" — confidence {f['confidence']:.3f}" if f["category"] != "wrongly abstained" else ""))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---- chart ----------------------------------------------------------------------------------
def render_chart(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    kinds = list(result["per_kind"].items())
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [1.1, 1]})

    labels, values, colors = [], [], []
    for kind, v in kinds:
        if v["n_answerable"]:
            labels.append(f"{kind}\n(n={v['n']})")
            values.append(v["accuracy"] or 0.0)
            colors.append("#4c72b0")
        else:
            labels.append(f"{kind}\nabstained (n={v['n']})")
            values.append(v["unanswerable_abstained"] or 0.0)
            colors.append("#c44e52")
    x = np.arange(len(labels))
    bars = ax1.bar(x, [100 * v for v in values], color=colors)
    for b, v in zip(bars, values):
        ax1.text(b.get_x() + b.get_width() / 2, 100 * v + 1.5, f"{100 * v:.0f}%", ha="center", va="bottom", fontsize=9,
                 bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5}, zorder=4)
    overall = result["headline"].get("accuracy")
    if overall is not None:
        ax1.axhline(100 * overall, color="#333", ls="--", lw=1, label=f"all answerable: {100 * overall:.0f}%")
        ax1.legend(loc="upper right", fontsize=9, framealpha=0.9)
    ax1.set_xticks(x, labels, fontsize=8.5, rotation=30, ha="right")
    ax1.set_ylim(0, 118)
    ax1.set_ylabel("% correct")
    ax1.set_title(f"Answer accuracy per kind (threshold {_short_threshold(result)})")
    ax1.grid(axis="y", alpha=0.3)

    rows = result["questions"]
    http = result["meta"].get("source") == "http"  # abstained answers came without their best answer
    groups = [
        ("answerable,\nanswered right" if http else "answerable,\nbest answer right", [r["confidence"] for r in rows if r["answerable"] and r["raw_correct"]], "#55a868"),
        ("answerable, answered\nwrong or abstained" if http else "answerable,\nbest answer wrong", [r["confidence"] for r in rows if r["answerable"] and not r["raw_correct"]], "#dd8452"),
        ("unanswerable", [r["confidence"] for r in rows if not r["answerable"]], "#c44e52"),
    ]
    rng = np.random.default_rng(0)
    bins = np.linspace(0, 1, 41)
    for i, (name, vals, color) in enumerate(groups):
        if not vals:
            continue
        y = i + rng.uniform(-0.18, 0.18, len(vals))
        ax2.scatter(vals, y, s=22, color=color, alpha=0.8, edgecolors="white", linewidths=0.5, zorder=3)
        counts, _ = np.histogram(vals, bins=bins)
        if counts.max():  # a small histogram above each strip
            ax2.bar(bins[:-1], 0.35 * counts / counts.max(), width=bins[1] - bins[0], bottom=i + 0.22, align="edge",
                    color=color, alpha=0.35, zorder=2)
    ax2.set_yticks(range(len(groups)), [f"{g[0]} (n={len(g[1])})" for g in groups], fontsize=9)
    ax2.set_ylim(-0.5, len(groups) - 0.2)
    ax2.set_xlim(-0.02, 1.02)
    ax2.set_xlabel("answer confidence (the answerer abstains below the threshold)")
    t = result["meta"].get("threshold")
    if t is None:
        t = result["meta"].get("display_threshold")
    rec = result.get("recommended_threshold")
    if t is not None:
        same = rec is not None and abs(rec - t) < 1e-9
        label = f"configured threshold {t:g}" + (" (= recommended)" if same else "")
        if result["meta"].get("source") == "http":
            label = f"threshold {t:g} (local settings; the server applies its own)"
        ax2.axvline(t, color="#333", lw=1.5, label=label)
    if rec is not None and (t is None or abs(rec - t) > 1e-9):
        ax2.axvline(rec, color="#8172b2", lw=1.5, ls="--", label=f"recommended {rec:g}")
    if t is not None or rec is not None:
        ax2.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=9, frameon=False)
    ax2.set_title("Confidence of the best answer (one dot per question)", pad=24)
    ax2.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _short_threshold(result: dict) -> str:
    t = result["meta"].get("threshold")
    return "server's" if t is None else f"{t:g}"


# ---- files ----------------------------------------------------------------------------------
def write_all(result: dict, out_dir: Path | str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "report.png"]
    paths[0].write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(result, paths[2].name), encoding="utf-8")
    render_chart(result, paths[2])
    return paths

"""`citeqa eval --squad FILE`: SQuAD 2.0 questions through citeqa.

Open setting (the product's): the file becomes a corpus (one document per article: the title with
`_` as spaces on the first line, a blank line, then the paragraphs separated by blank lines),
ingested into a temporary index; every question goes through `Engine.answer`, the code path of
`POST /api/ask` (top_k 5), and is scored with SQuAD's normalisation (eval/squad_metrics.py).
Closed setting (`--closed`, SQuAD's own): the reader alone, handed the question's own paragraph.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

from eval import squad_metrics as sm

log = logging.getLogger(__name__)
DEV6 = Path(__file__).resolve().parent / "data" / "squad2-dev6.json"

# Published figures on the full SQuAD 2.0 dev set (../shared/qa/README.md)
PUBLISHED = [
    {"reader": "human (SQuAD 2.0 paper)", "EM": 86.8, "F1": 89.5},
    {"reader": "deepset/roberta-base-squad2", "EM": 79.9, "F1": 83.0},
    {"reader": "deepset/tinyroberta-squad2", "EM": 78.9, "F1": 82.0, "HasAns_EM": 76.5, "NoAns_acc": 79.9},
    {"reader": "distilroberta-base-squad_v2", "EM": 65.2, "F1": 68.6, "HasAns_EM": 67.6, "NoAns_acc": 62.9},
]


def load(path: str | Path) -> list[dict]:
    from training.reader.data import load_squad

    return load_squad(path)


def answer_sentence(context: str, answer: dict) -> str | None:
    """The sentence of the context that holds the answer's first character (the sentence spans the
    training negatives cut answers out by)."""
    from training.reader.examples import answer_sentence as at

    a0 = answer.get("answer_start")
    if a0 is None or a0 < 0:
        a0 = context.find(answer["text"])
    return at(context, a0) if a0 >= 0 else None


def questions(articles: list[dict], limit: int | None = None) -> list[dict]:
    """Plain question rows; with `limit`, an even spread over the articles (every k-th question),
    so a short run still sees each article and both kinds. An answerable one carries how many
    content words it shares with its answer sentence (`overlap`)."""
    out = []
    for art in articles:
        for p in art["paragraphs"]:
            for q in p["qas"]:
                golds = [a["text"] for a in q.get("answers", [])]
                answerable = not q.get("is_impossible", False) and bool(golds)
                sent = answer_sentence(p["context"], q["answers"][0]) if answerable else None
                out.append({"id": q["id"], "question": q["question"], "answers": golds if answerable else [],
                            "answerable": answerable, "article": art["title"], "context": p["context"],
                            "overlap": sm.overlap(q["question"], sent) if sent else None})
    if limit and limit < len(out):
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def _file_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", title)[:120] + ".txt"


def write_corpus(articles: list[dict], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for art in articles:
        body = "\n\n".join(p["context"].strip() for p in art["paragraphs"])
        path = folder / _file_name(art["title"])
        path.write_text(art["title"].replace("_", " ") + "\n\n" + body + "\n", encoding="utf-8")
        paths.append(path)
    return paths


# the answerer's scores a row keeps: the deciding span's features, the closest sentence's cosine and,
# with a second stage, the first stage's (…1), its confidence p1, which stage decided, and (the gate's
# fit, every question re-read) what the first stage alone answered
DEBUG_KEYS = ("margin", "score", "null", "dense", "near", "margin1", "score1", "null1", "dense1", "p1", "stage",
              "first_answer")


def run_open(articles: list[dict], qs: list[dict], *, top_k: int = 5, workdir: Path | None = None,
             progress: bool = True, **settings) -> list[dict]:
    """Ingest the articles into a temporary index and ask every question in-process."""
    from tqdm import tqdm

    from service.engine import Engine
    from service.config import Settings

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(articles, corpus)
        s = Settings(index_dir=Path(tmp) / "index", seeds_dir=corpus, **settings)
        engine = Engine.load(s, ingest_if_needed=True)
        rows = []
        try:
            for q in tqdm(qs, desc="squad open", unit="q", disable=not progress):
                t0 = time.perf_counter()
                resp, answer = engine.answer(q["question"], top_k=top_k)
                ms = (time.perf_counter() - t0) * 1000
                row = sm.open_row(q, resp.model_dump(), ms, top_k)
                row.update({k: answer.debug.get(k) for k in DEBUG_KEYS})
                row["answer"] = resp.answer
                row["question"] = q["question"]
                row["golds"] = q["answers"]
                rows.append(row)
        finally:
            engine.close()
    return rows


def run_closed(qs: list[dict], reader_path: Path, progress: bool = True, threshold: float | None = None,
               batch: int = 16) -> list[dict]:
    """The reader alone on each question's own paragraph; abstains with the closed-setting
    calibration of the model folder (fitted on held-out training articles)."""
    from tqdm import tqdm

    from service.answerers.reader.answerer import ReaderCalibration, span_features
    from service.answerers.reader.model import ReaderModel

    model = ReaderModel(reader_path)
    cal = ReaderCalibration.from_dict(model.calibration.get("closed"))
    if threshold is not None:
        cal = cal.with_threshold(threshold)
    rows = []
    for b in tqdm(range(0, len(qs), batch), desc="squad closed", unit="batch", disable=not progress):
        part = qs[b:b + batch]
        results = model.run_many([(q["question"], [q["context"]]) for q in part])
        for q, spans in zip(part, results):
            span = spans[0] if spans else None
            forced = q["context"][span.start:span.end] if span else ""
            abstained = span is None or cal.probability(**span_features(span)) < cal.threshold
            pred = "" if abstained else forced
            golds = q["answers"]
            rows.append({"id": q["id"], "article": q["article"], "answerable": q["answerable"],
                         "abstained": abstained, "margin": span.margin if span else None, "prediction": pred,
                         "em": sm.best_over(sm.exact, pred, golds), "f1": sm.best_over(sm.f1, pred, golds),
                         "forced_f1": sm.best_over(sm.f1, forced, golds) if q["answerable"] else 0.0})
    return rows


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(result: dict) -> str:
    lines = [f"# SQuAD 2.0 through citeqa: {result['meta']['file']}", ""]
    if "open" in result:
        keys = ["questions", "overall", "contains", "short_em", "short_f1", "noans", "false_abstain", "ev5",
                "hit1", "p50_ms", "p95_ms"]
        lines += ["## Open setting (retrieval over all articles, top 5)", "",
                  "| article | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for name, s in [("**all**", result["open"])] + list(result["open_by_article"].items()):
            lines.append(f"| {name} | " + " | ".join(_fmt(s[k]) for k in keys) + " |")
        lines.append("")
        if result["open"].get("reread") is not None:
            lines += [f"The second-stage reader re-read {result['open']['reread']:.1%} of the questions "
                      "(the rest were decided by the first stage's confidence, outside its gate's band).", ""]
        bins = result.get("open_by_overlap")
        if bins:
            lines += ["Answerable questions by the content words they share with their answer sentence "
                      "(the lowest bin is a question in its asker's own words):", "",
                      "| shared words | questions | contains | false_abstain | ev5 |", "|---|---|---|---|---|"]
            lines += [f"| {name} | {b['questions']} | {_fmt(b['contains'])} | {_fmt(b['false_abstain'])} | "
                      f"{_fmt(b['ev5'])} |" for name, b in bins.items()]
            lines.append("")
        sep = result.get("open_separability")
        if sep and sep["auc"] is not None:
            caps = [k for k in sep if k.startswith("noans_at_fa_")]
            lines += [f"Separability of `confidence` (any threshold; reported, never used to choose one): AUC "
                      f"{sep['auc']:.3f}; the most unanswerable questions abstained at false_abstain ≤ "
                      + " / ".join(k.removeprefix("noans_at_fa_") for k in caps) + ": "
                      + " / ".join(f"{sep[k]:.3f}" for k in caps), ""]
    if "closed" in result:
        keys = ["EM", "F1", "HasAns_EM", "HasAns_F1", "NoAns_acc"]
        lines += ["## Closed setting (the reader handed the question's own paragraph)", "",
                  "| reader | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        c = result["closed"]
        lines.append("| **citeqa reader (this file)** | " + " | ".join(f"{c[k]:.1f}" for k in keys) + " |")
        for p in PUBLISHED:
            lines.append(f"| {p['reader']} (full dev) | " + " | ".join(
                f"{p[k]:.1f}" if k in p else "–" for k in keys) + " |")
        lines += ["", f"Forced to answer (no abstention), HasAns F1 {c['forced_HasAns_F1']:.1f}.", ""]
    return "\n".join(lines)


def main(args) -> int:
    from service.config import Settings

    path = Path(args.squad)
    try:
        articles = load(path)
    except (OSError, ValueError, KeyError) as exc:
        print(f"citeqa eval: error: cannot read {path} as SQuAD JSON: {exc}", file=sys.stderr)
        return 2
    qs = questions(articles, args.limit)
    progress = not getattr(args, "no_progress", False)
    result: dict = {"meta": {"file": str(path), "questions": len(qs), "top_k": args.top_k}}
    if getattr(args, "closed", False):
        from service.answerers.reader.model import SHIPPED_DIR

        reader_path = Settings().reader_path or SHIPPED_DIR
        rows = run_closed(qs, reader_path, progress=progress, threshold=args.threshold)
        result["closed"] = sm.closed_summary(rows)
        result["closed_rows"] = rows
    else:
        overrides = {"abstain_threshold": args.threshold} if args.threshold is not None else {}
        rows = run_open(articles, qs, top_k=args.top_k, progress=progress, **overrides)
        result["open"] = sm.open_summary(rows)
        result["open_by_article"] = sm.by_article(rows)
        result["open_separability"] = sm.separability(rows)
        result["open_by_overlap"] = sm.by_overlap(rows)
        result["open_rows"] = rows
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "squad-closed" if getattr(args, "closed", False) else "squad"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    md = markdown(result)
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    print(md)
    print(f"report: {out / (stem + '.json')}, {out / (stem + '.md')}")
    return 0

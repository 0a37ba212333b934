"""Fit the reader's confidence and abstention threshold on held-out SQuAD *training* articles
(the ones `citeqa train-reader` kept out of training), never on the sets citeqa is measured on.

`python -m training.reader.fit [--model DIR]` writes DIR/calibration.json with, for each setting,
`p(correct) = sigmoid(b + w . features)` (a logistic fit over the best span's margin over "no
answer", its score, its window's no-answer score and, in the open setting, the passage's cosine to
the question) and the threshold on it:
- closed (the question's own paragraph): held-out questions, their official unanswerable ones, and
  made negatives of the kinds training used (training/reader/data.py);
- open (retrieval over a corpus of held-out articles, top 5, the code path of POST /api/ask):
  answerable questions, the official unanswerable ones, and questions whose answer sentence was
  taken out of the corpus (the fact is gone, its topic is not).
The threshold maximises the class-balanced score (the mean of "answerable answered right" and
"unanswerable abstained": SQuAD 2.0's half-and-half design, not the prior of any measured set)
with at most `--max-false-abstain` of the answerable questions abstained; 5-fold cross-validation
by article reports what it should give on new articles.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from eval import squad, squad_metrics as sm
from training.reader import data as reader_data
from training.logistic import choose, fit_logistic, folds_by_article, predict
from training.reader.train import DEFAULT_SQUAD2, DEFAULT_TRAIN, SPLIT_SEED, SQUAD2_HELDOUT
from index.stores.manifest import write_json_atomic
from service.answerers.reader.answerer import SECOND_KEY, near_key


CLOSED_FEATURES = ["margin", "score", "null"]
OPEN_FEATURES = ["margin", "score", "null", "dense"]
# the open setting: how many held-out articles, answerable questions and answer sentences taken out
OPEN_ARTICLES, OPEN_ANSWERABLE, OPEN_REMOVED, SEED = 24, 700, 450, 7


def evaluate(p, answerable, right, t) -> dict:
    answered = p >= t
    return {"answered_right": float((right & answered)[answerable].mean()),
            "noans": float((~answered)[~answerable].mean()),
            "false_abstain": float((~answered)[answerable].mean()),
            "overall_balanced": 0.5 * float((right & answered)[answerable].mean())
            + 0.5 * float((~answered)[~answerable].mean())}


def fit(rows: list[dict], features: list[str], max_false_abstain: float, folds: int = 5, seed: int = 0) -> dict:
    """rows: {features..., answerable, right, article}. Logistic fit + threshold, and a 5-fold
    cross-validated estimate (folds by article: the fit never saw the test fold's articles)."""
    x = np.array([[float(r[f] or 0.0) for f in features] for r in rows])
    answerable = np.array([r["answerable"] for r in rows], dtype=bool)
    right = np.array([r["right"] for r in rows], dtype=bool)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9  # standardised for the fit, folded back below

    def logistic(idx):
        b, coef = fit_logistic((x[idx] - mu) / sd, right[idx].astype(float), l2=0.1)
        w = coef / sd
        return b - float(w @ mu), w

    everything = np.ones(len(rows), dtype=bool)
    b, w = logistic(everything)
    p = predict(b, w, x)
    t = choose(p, answerable, right, max_false_abstain)
    cv = []
    for train, test in folds_by_article([r["article"] for r in rows], answerable, folds, seed):
        bk, wk = logistic(train)
        tk = choose(predict(bk, wk, x[train]), answerable[train], right[train], max_false_abstain)
        cv.append(evaluate(predict(bk, wk, x[test]), answerable[test], right[test], tk) | {"threshold": tk})
    return {"weights": dict(zip(features, map(float, w))), "b": float(b), "threshold": t,
            "fitted_on": len(rows), "answerable": int(answerable.sum()), "unanswerable": int((~answerable).sum()),
            "in_sample": evaluate(p, answerable, right, t),
            "cv": {k: float(np.mean([c[k] for c in cv])) for k in cv[0]} if cv else None}


def closed_rows(model_dir: Path, articles: list[dict], n: int, seed: int) -> list[dict]:
    from service.answerers.reader.model import ReaderModel

    exs = reader_data.build(articles, n, n // 3, n // 6, n // 6, seed)  # official negatives included
    model = ReaderModel(model_dir)
    rows = []
    for i in range(0, len(exs), 16):
        part = exs[i:i + 16]
        for e, spans in zip(part, model.run_many([(e.question, [e.context]) for e in part])):
            sp = spans[0] if spans else None
            pred = e.context[sp.start:sp.end] if sp else ""
            ok = e.answer_text is not None and sm.f1(pred, e.answer_text) >= 0.5
            rows.append({"margin": sp.margin if sp else -1e3, "score": sp.score if sp else 0.0,
                         "null": sp.null if sp else 0.0, "answerable": e.answer_text is not None,
                         "right": ok, "article": e.article, "kind": e.kind})
    return rows


def open_set(articles: list[dict], n_answerable: int, n_removed: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The open setting's corpus (the articles, some answer sentences taken out of it) and its
    questions: answerable ones, the official unanswerable ones, and those whose answer sentence
    was taken out (kind `removed`)."""
    rng = random.Random(seed)
    qs = squad.questions(articles)
    ans = [q for q in qs if q["answerable"]]
    neg = [q for q in qs if not q["answerable"]]
    rng.shuffle(ans)
    removed_q = ans[:n_removed]
    keep_q = []
    touched: set[str] = set()
    edits: dict[str, str] = {}  # paragraph -> paragraph without the answer sentence
    for q in removed_q:
        ex = reader_data.Example(q["id"], q["question"], edits.get(q["context"], q["context"]), q["answers"][0],
                                 q["context"].find(q["answers"][0]), "answerable", q["article"])
        if ex.answer_start < 0:
            continue
        neg_ex = reader_data.answer_removed(ex)
        if neg_ex is None:
            continue
        edits[q["context"]] = neg_ex.context
        touched.add(q["context"])
        keep_q.append(q)
    corpus = [{"title": a["title"], "paragraphs": [{"context": edits.get(p["context"], p["context"]), "qas": []}
                                                   for p in a["paragraphs"]]} for a in articles]
    text_of = {a["title"]: "\n".join(p["context"] for p in a["paragraphs"]).lower() for a in corpus}
    made_neg = [q | {"answerable": False, "answers": [], "kind": "removed"} for q in keep_q
                if not any(g.lower() in text_of[q["article"]] for g in q["answers"])]
    pos = [q | {"kind": "answerable"} for q in ans[n_removed:] if q["context"] not in touched][:n_answerable]
    return corpus, pos + [q | {"kind": "official_negative"} for q in neg] + made_neg


def open_articles(held: list[dict], n: int) -> list[dict]:
    """The open setting's articles: every official SQuAD 2.0 one (real negatives), then others."""
    official = [a for a in held if reader_data.is_official(a)]
    others = [a for a in held if not reader_data.is_official(a)]
    return official + others[:max(0, n - len(official))]


def open_rows(model_dir: Path, articles: list[dict], n_answerable: int, n_removed: int, seed: int,
              first: Path | None = None) -> list[dict]:
    """Open setting over a corpus of the articles, some answer sentences taken out of it; with
    `first`, model_dir is a second stage re-reading that reader's best passages."""
    corpus, ask = open_set(articles, n_answerable, n_removed, seed)
    # a second stage re-reads every question here: its gate is fitted on these rows (training/reader/gate.py)
    stages = {"reader_path": first, "reader_second_path": model_dir, "reader_gate": False} if first \
        else {"reader_path": model_dir}
    rows = squad.run_open(corpus, ask, abstain_threshold=0.0, answerer="reader", **stages)
    for r, q in zip(rows, ask):
        r["right"] = bool(r["contains"])
        r["kind"] = q["kind"]
        if r["margin"] is None:
            r["margin"] = -1e3
    return rows


def near_cosine(rows: list[dict], q: float = 5.0) -> float:
    """The cosine to the question of the closest retrieved sentence that 95 % of the held-out
    answerable questions reach: an abstention whose closest sentence is at least this near shows it
    and says why it is no answer (a reworded question's sentence included; an off-topic one's not)."""
    vals = [r["near"] for r in rows if r["answerable"] and r.get("near") is not None]
    return round(float(np.percentile(vals, q)), 4) if vals else 0.5


def open_key(chunk_vectors: str) -> str:
    """calibration.json's entry for the open setting over an index with these chunk vectors."""
    return "open" if chunk_vectors == "separate" else f"open_{chunk_vectors}"


def _near_only(args, held: list[dict], cal: dict, cal_path: Path, bar_key: str) -> int:
    """--near-only: the closest-sentence bar of this run's sentence vectors, into the open and two-stage
    entries (a pooled entry's index has separate sentence vectors: it is left alone)."""
    reader = Path(args.first) if args.first else Path(args.model)
    rows = json.loads(Path(args.rows).read_text()) if args.rows else \
        open_rows(reader, open_articles(held, args.articles), args.open_answerable, args.open_removed, args.seed)
    bar = near_cosine(rows)
    for key in [k for k in ("open", SECOND_KEY) if k in cal]:
        cal[key][bar_key] = bar
        cal[key][bar_key + "_source"] = (f"python -m training.reader.fit --near-only, {len(rows)} open rows "
                                         f"read by {reader}, {time.strftime('%Y-%m-%d')}")
    print(f"{bar_key} {bar}")
    write_json_atomic(cal_path, cal)
    if not args.rows:
        _keep_rows(rows)
    print(f"wrote {cal_path}")
    return 0


def _keep_rows(rows: list[dict]) -> None:
    """The open rows, for a later --rows run (the gate re-fitted at another budget, the near bar)."""
    Path(".citeqa").mkdir(exist_ok=True)
    Path(".citeqa/fit_open_rows.json").write_text(json.dumps(rows))


def main(argv: list[str] | None = None) -> int:
    from service.answerers.reader.model import CALIBRATION_NAME, SHIPPED_DIR

    p = argparse.ArgumentParser(prog="python -m training.reader.fit", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(SHIPPED_DIR))
    p.add_argument("--train", default=str(DEFAULT_TRAIN))
    p.add_argument("--heldout", default=".citeqa/reader-train/heldout_articles.json",
                   help="titles of the articles train-reader kept out (written by it)")
    p.add_argument("--squad2", default=str(DEFAULT_SQUAD2),
                   help="the official SQuAD 2.0 file train-reader --squad2 read ('' for none)")
    p.add_argument("--squad2-heldout", default=".citeqa/reader-train/heldout_squad2_articles.json",
                   help="titles of its articles train-reader kept out (written by it; all of them when missing: "
                        "a reader trained without the file saw none)")
    p.add_argument("--articles", type=int, default=OPEN_ARTICLES, help="held-out articles in the open-setting corpus")
    p.add_argument("--closed-n", type=int, default=1500)
    p.add_argument("--open-answerable", type=int, default=OPEN_ANSWERABLE)
    p.add_argument("--open-removed", type=int, default=OPEN_REMOVED)
    p.add_argument("--max-false-abstain", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--setting", choices=["both", "closed", "open"], default="both")
    p.add_argument("--first", default="", help="fit --model as a second stage after this first-stage reader "
                   "(its open fit, with the first stage's margin as a feature, and the gate of which questions it "
                   "re-reads go under 'open_second')")
    p.add_argument("--budget", type=float, default=0.4,
                   help="with --first: at most this share of the questions re-read by the second stage")
    p.add_argument("--rows", default="", help="with --first: the open rows of an earlier run (its "
                   ".citeqa/fit_open_rows.json) instead of reading the held-out questions again")
    p.add_argument("--near-only", action="store_true",
                   help="only the near-sentence bar of the sentence vectors this run's index gets "
                   "(CITEQA_SENTENCE_VECTORS), written into the open and two-stage entries of --model's calibration; "
                   "the rows are read by the first stage alone (--first, else --model): the closest "
                   "sentence is retrieval's, not the reader's")
    args = p.parse_args(argv)
    titles = set(json.loads(Path(args.heldout).read_text()))
    held = [a for a in reader_data.load_squad(args.train) if a["title"] in titles]
    if args.squad2 and Path(args.squad2).exists():
        s2 = reader_data.load_squad(args.squad2)
        if Path(args.squad2_heldout).exists():
            keep = set(json.loads(Path(args.squad2_heldout).read_text()))
        else:
            keep = {a["title"] for a in reader_data.squad2_split(s2, SQUAD2_HELDOUT, SPLIT_SEED)[1]}
        # their real written negatives come first in the open setting (open_articles takes official ones first)
        held = [a for a in s2 if a["title"] in keep] + held
    model_dir = Path(args.model)
    cal_path = model_dir / CALIBRATION_NAME
    cal = json.loads(cal_path.read_text()) if cal_path.exists() else {}
    from service.config import Settings

    s = Settings()
    # the open rows' temporary indexes are new ones ("auto": separate sentence vectors); pooled chunk
    # vectors always come with separate ones (index/preparing.py)
    bar_key = near_key("late" if s.sentence_vectors == "late" and s.chunk_vectors != "pooled" else "separate")
    if args.near_only:
        return _near_only(args, held, cal, cal_path, bar_key)
    if args.setting in ("both", "closed"):
        rows = closed_rows(model_dir, held, args.closed_n, args.seed)
        cal["closed"] = fit(rows, CLOSED_FEATURES, args.max_false_abstain)
        print("closed", json.dumps(cal["closed"], indent=1))
    if args.setting in ("both", "open"):
        # the passage cosine is one of the open fit's features, and pooled chunk vectors (CITEQA_CHUNK_VECTORS)
        # have their own distribution of it: such an index gets a fit of its own, read by the reader answerer
        key = SECOND_KEY if args.first else open_key(Settings().chunk_vectors)
        if args.rows:
            rows = json.loads(Path(args.rows).read_text())
        else:
            rows = open_rows(model_dir, open_articles(held, args.articles), args.open_answerable,
                             args.open_removed, args.seed, Path(args.first) if args.first else None)
        if args.first:
            from training.reader.gate import fit_gate

            for budget in sorted({0.2, 0.3, 0.4, 0.5, 1.0} - {args.budget}):  # the trade, for the model card
                print(f"budget {budget}: cv", json.dumps(fit_gate(rows, args.max_false_abstain, budget)["cv"]))
            cal[key] = fit_gate(rows, args.max_false_abstain, args.budget)
        else:
            cal[key] = fit(rows, OPEN_FEATURES, args.max_false_abstain)
        cal[key][bar_key] = near_cosine(rows)
        print(key, json.dumps(cal[key], indent=1))
        if not args.rows:
            _keep_rows(rows)
    cal["source"] = ("training/reader/fit.py on held-out SQuAD training articles "
                     f"({len(held)} articles kept out of training; seed {args.seed})")
    write_json_atomic(cal_path, cal)
    print(f"wrote {cal_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Paraphrase robustness on articles the reader never saw: held-out training articles' answerable
questions, each asked as written and as an LLM reworded it (`python -m training.reader.reword
--heldout`), through the open setting's code path (retrieval over those articles, then the reader).

Neither dev6 nor the team's questions are used, so a round can be chosen on this without fitting
the sets citeqa is measured on. Only questions with a kept rewording are asked, both ways, so the
two columns differ by the wording alone.

`python -m training.reader.reword_eval --file F [--first DIR] [--second DIR | --no-second]`
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from eval import squad
from training.reader import data
from training.reader.reword import answer_sentence, kept


def pairs(path: str | Path, articles: list[dict]) -> list[tuple[dict, str]]:
    """(question row as eval.squad.questions gives it, its first kept rewording)."""
    rows = {q["id"]: q for q in squad.questions(articles) if q["answerable"]}
    known = {i: (q["question"], q["answers"][0], answer_sentence(q["context"], q["context"].find(q["answers"][0])))
             for i, q in rows.items()}
    return [(rows[qid], good[0]) for qid, good in kept(path, known) if good]


def summary(rows: list[dict]) -> dict:
    n = len(rows) or 1
    return {"n": len(rows), "contains": round(sum(bool(r["contains"]) for r in rows) / n, 3),
            "false_abstain": round(sum(bool(r["abstained"]) for r in rows) / n, 3),
            "overlap_mean": round(sum(r["overlap"] or 0 for r in rows) / n, 2)}


def main(argv: list[str] | None = None) -> int:
    from eval import squad_metrics as sm
    from training.reader.train import DEFAULT_TRAIN, HELDOUT_ARTICLES, SPLIT_SEED

    p = argparse.ArgumentParser(prog="python -m training.reader.reword_eval", description=__doc__.splitlines()[0])
    p.add_argument("--file", required=True, help="rewordings of held-out questions (reword --heldout)")
    p.add_argument("--train", default=str(DEFAULT_TRAIN))
    p.add_argument("--first", default="", help="first-stage reader folder (default: the shipped one)")
    p.add_argument("--second", default="", help="second-stage folder (default: the shipped one)")
    p.add_argument("--no-second", action="store_true", help="the first stage alone")
    p.add_argument("--out", default="", help="write the rows here (JSON)")
    a = p.parse_args(argv)
    _, held = data.split_articles(data.load_squad(a.train), HELDOUT_ARTICLES, SPLIT_SEED)
    both = pairs(a.file, held)
    asked = [q for q, _ in both] + [q | {"question": w, "overlap": sm.overlap(w, answer_sentence(
        q["context"], q["context"].find(q["answers"][0])))} for q, w in both]
    settings = {"answerer": "reader"}
    if a.first:
        settings["reader_path"] = Path(a.first)
    if a.no_second:
        settings["reader_second"] = False
    elif a.second:
        settings["reader_second_path"] = Path(a.second)
    rows = squad.run_open(held, asked, **settings)
    n = len(both)
    result = {"as_written": summary(rows[:n]), "reworded": summary(rows[n:]),
              "reread": round(sum(r.get("stage") == 2 for r in rows) / (len(rows) or 1), 3)}
    print(json.dumps(result))
    if a.out:
        Path(a.out).write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

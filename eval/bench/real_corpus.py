"""A corpus of real long articles for the ingest benchmark: the longest Wikipedia articles of a
SQuAD training file (`../shared/qa/squad-train-442.json.gz`: never a dev6 or acceptance article),
one text file each, its paragraphs as the article's paragraphs. Real prose has more and longer
sentences than the generated corpus (eval/bench/corpus_gen.py), which is what users upload.

    python -m eval.bench.real_corpus OUT_DIR [--articles 10] [--source FILE]
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

from service.config import REPO_ROOT

SOURCE = REPO_ROOT.parent / "shared" / "qa" / "squad-train-442.json.gz"


def _load(source: Path) -> list[dict]:
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8") as fh:
        return json.load(fh)["data"]


def write(out: Path, articles: int = 10, source: Path = SOURCE) -> list[Path]:
    """The `articles` longest articles of `source` as OUT/<title>.txt (deterministic: by length, then title)."""
    data = _load(Path(source))
    texts = [(a["title"], [p["context"].strip() for p in a["paragraphs"]]) for a in data]
    texts.sort(key=lambda t: (-sum(len(p) for p in t[1]), t[0]))
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for title, paras in texts[:articles]:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", title)[:80]
        p = out / f"{name}.txt"
        p.write_text(title.replace("_", " ") + "\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--articles", type=int, default=10)
    ap.add_argument("--source", type=Path, default=SOURCE)
    a = ap.parse_args(argv)
    paths = write(a.out, a.articles, a.source)
    print(f"{len(paths)} articles, {sum(p.stat().st_size for p in paths)} bytes in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

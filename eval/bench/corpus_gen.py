"""A synthetic news corpus for the ingest benchmark, recombined from the seed articles.

Every generated article is built from whole sentences of the cleaned seed articles (seeds/*.txt),
re-ordered and re-mixed across seeds, with the people, numbers, years and dates in them varied, a
headline, a byline and a "Published:" date line, so it goes through the same cleaning, sentence
splitting, chunking and embedding as a real capture. The output is deterministic: article i
depends only on (seed, i, revision), so the first 200 articles of a 2,000-article corpus are the
200-article corpus, and `modify` changes chosen articles by bumping their revision.

    python -m eval.bench.corpus_gen OUT_DIR [--docs 2000] [--seed 13]
"""
from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from index.text.loading import load_file
from index.text.sentences import split_sentences
from service.config import REPO_ROOT

SEEDS = REPO_ROOT / "seeds"

# People named in the seed articles: (full name, how the article refers to them afterwards).
_PEOPLE = [
    ("Lloyd Austin", "Austin"), ("Lee Jong-sup", "Lee"), ("Joe Biden", "Biden"), ("Fumio Kishida", "Kishida"),
    ("Yoon Suk Yeol", "Yoon"), ("Cho Hyun-dong", "Cho"), ("Jake Sullivan", "Sullivan"), ("Kurt Campbell", "Campbell"),
    ("Cho Tae-yong", "Cho"), ("Akiba Takeo", "Akiba"), ("Takeo Akiba", "Akiba"), ("John Kirby", "Kirby"),
    ("Lee Jae Myung", "Lee"), ("Donald Trump", "Trump"), ("Park Yoon-joo", "Park"), ("Christopher Landau", "Landau"),
    ("Takehiro Funakoshi", "Funakoshi"), ("Jung Min-ho", "Jung"),
]
_FIRST = ["Min-jun", "Seo-yeon", "Ji-hoon", "Haruto", "Yui", "Daniel", "Emily", "Marcus", "Hana", "Kenji", "Sofia",
          "Tae-hyun", "Aiko", "Robert", "Grace", "Hyun-woo", "Naomi", "Sung-min", "Laura", "Takashi", "Eun-ji",
          "Michael", "Rina", "Jae-won", "Olivia", "Hiroshi", "Ye-jin", "Thomas", "Mei", "Dong-hyun"]
_LAST = ["Kang", "Han", "Yoo", "Shin", "Nakamura", "Tanaka", "Suzuki", "Miller", "Carter", "Hughes", "Baek", "Seo",
         "Ishikawa", "Watanabe", "Brooks", "Reyes", "Moon", "Kwon", "Hwang", "Sato", "Ogawa", "Foster", "Jang",
         "Lim", "Yamada", "Bennett", "Chung", "Oh", "Matsuda", "Coleman"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_MONTH_RE = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
             r"|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
_HEADLINE_TAILS = ["", "", "", " as talks resume", " ahead of summit", " amid regional tensions",
                   " after ministerial meeting", " in new agreement", " despite concerns", " officials say"]


@dataclass(frozen=True)
class _Pool:
    titles: tuple[str, ...]
    # sentences grouped by seed article, in article order
    sentences: tuple[tuple[str, ...], ...]


@lru_cache(maxsize=4)
def _pool(seeds_dir: Path = SEEDS) -> _Pool:
    titles, groups = [], []
    for path in sorted(Path(seeds_dir).glob("*.txt")):
        doc = load_file(path)
        titles.append(doc.title)
        sents = [doc.text[s.start : s.end] for s in split_sentences(doc.text)]
        sents = [s for s in sents if s != doc.title and len(s.split()) >= 5]
        groups.append(tuple(sents))
    if not groups or not any(groups):
        raise FileNotFoundError(f"no usable seed articles in {seeds_dir}")
    return _Pool(tuple(titles), tuple(groups))


_name_alts = sorted({n for pair in _PEOPLE for n in pair}, key=len, reverse=True)
_varying = re.compile(
    r"(?P<date>\b" + _MONTH_RE + r"\s+\d{1,2}(?!\d)(?P<range>\s*[-–]\s*\d{1,2}(?!\d))?(?:,\s+(?:19|20)\d{2})?)"
    r"|(?P<year>\b(?:19|20)\d{2}\b)"
    r"|(?P<num>\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)?\b)"
    r"|(?P<name>\b(?:" + "|".join(re.escape(n) for n in _name_alts) + r")\b)"
)


class _Varier:
    """Replaces people, numbers, years and dates in seed sentences, consistently within one article."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.people: dict[str, tuple[str, str]] = {}
        self.year_shift = rng.randint(-6, 3)

    def _person(self, name: str) -> str:
        for full, short in _PEOPLE:
            if name in (full, short):
                if full not in self.people:
                    first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
                    self.people[full] = (f"{first} {last}", last)
                new_full, new_short = self.people[full]
                return new_full if name == full else new_short
        return name

    def _sub(self, m: re.Match) -> str:
        rng = self.rng
        if m.group("date"):
            year = re.search(r"(?:19|20)\d{2}", m.group("date"))
            day = rng.randint(1, 24)
            out = f"{rng.choice(_MONTHS)} {day}" + (f"-{day + rng.randint(1, 4)}" if m.group("range") else "")
            return out + (f", {int(year.group()) + self.year_shift}" if year else "")
        if m.group("year"):
            return str(int(m.group("year")) + self.year_shift)
        if m.group("num"):
            raw = m.group("num")
            digits = len(raw.split(".")[0].replace(",", ""))
            value = rng.randint(10 ** (digits - 1) if digits > 1 else 1, 10**digits - 1)
            return f"{value:,}" if "," in raw else str(value)
        return self._person(m.group("name"))

    def vary(self, sentence: str) -> str:
        return _varying.sub(self._sub, sentence)


def article(i: int, seed: int = 13, revision: int = 0, seeds_dir: Path = SEEDS) -> str:
    """The text of synthetic article i (a plain-text capture, as the seeds are)."""
    pool = _pool(Path(seeds_dir))
    rng = random.Random(f"citeqa-corpus:{seed}:{i}:{revision}")
    varier = _Varier(rng)
    main = rng.randrange(len(pool.sentences))
    n_sent = rng.randint(14, 34)
    picked: list[str] = []
    # mostly a run of one seed article (so a text reads like an article), mixed with others
    start = rng.randrange(max(1, len(pool.sentences[main])))
    for k in range(n_sent):
        if rng.random() < 0.65 and pool.sentences[main]:
            src = pool.sentences[main]
            picked.append(src[(start + k) % len(src)])
        else:
            src = pool.sentences[rng.randrange(len(pool.sentences))] or pool.sentences[main]
            picked.append(rng.choice(src))
    title = varier.vary(pool.titles[main].rstrip(".!?:,")) + rng.choice(_HEADLINE_TAILS)
    if revision:
        title += f" (update {revision})"
    year = 2023 + varier.year_shift // 3
    date = f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    lines = [title, f"By {first} {last}", f"Published: {date}", ""]
    k = 0
    while k < len(picked):
        size = rng.choice((1, 2, 2, 3))
        lines.append(" ".join(varier.vary(s) for s in picked[k : k + size]))
        lines.append("")
        k += size
    return "\n".join(lines).rstrip() + "\n"


def filename(i: int) -> str:
    return f"gen_{i:05d}.txt"


def generate(out_dir: Path, n_docs: int, seed: int = 13, seeds_dir: Path = SEEDS) -> list[Path]:
    """Write n_docs articles to out_dir (created if needed); returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_docs):
        path = out_dir / filename(i)
        path.write_text(article(i, seed, 0, seeds_dir), encoding="utf-8")
        paths.append(path)
    return paths


def modify(out_dir: Path, n_docs: int, fraction: float, seed: int = 13, seeds_dir: Path = SEEDS) -> list[Path]:
    """Rewrite a deterministic `fraction` of the n_docs articles (a new revision of each)."""
    n_change = max(1, round(n_docs * fraction))
    rng = random.Random(f"citeqa-corpus-modify:{seed}")
    chosen = sorted(rng.sample(range(n_docs), n_change))
    paths = []
    for i in chosen:
        path = Path(out_dir) / filename(i)
        path.write_text(article(i, seed, 1, seeds_dir), encoding="utf-8")
        paths.append(path)
    return paths


def digest(paths: list[Path]) -> str:
    """sha256 over the files' names and contents (for determinism checks)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.corpus_gen", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    paths = generate(Path(args.out_dir), args.docs, args.seed)
    print(f"wrote {len(paths)} articles to {args.out_dir} (sha256 {digest(paths)[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

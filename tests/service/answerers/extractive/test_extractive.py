"""The heuristic (fallback) answerer over the real seed index: citations point at exact spans, abstention works both ways."""
import json
import re
from pathlib import Path

import pytest

from service import cli

QUESTIONS = [json.loads(line) for line in (Path(__file__).resolve().parents[4] / "eval" / "questions.jsonl")
             .read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def answers(extractive_engine):
    return {q["id"]: extractive_engine.ask(q["question"]) for q in QUESTIONS}


def test_every_citation_of_every_eval_question_is_an_exact_span(extractive_engine, answers):
    texts = {d.doc_id: extractive_engine.document(d.doc_id).text for d in extractive_engine.documents()}
    n = 0
    for r in answers.values():
        markers = [int(m) for m in re.findall(r"\[(\d+)\]", r.answer)]
        assert sorted(set(markers)) == [c.n for c in r.citations]
        assert [m for i, m in enumerate(markers) if m not in markers[:i]] == list(range(1, len(r.citations) + 1))
        for c in r.citations:
            assert texts[c.doc_id][c.start : c.end] == c.quote
            assert c.quote in r.answer
            # the cited passage really contains the quote
            passage = next(p for p in r.passages if p.chunk_id == c.chunk_id)
            assert passage.start <= c.start and c.end <= passage.end
            n += 1
        if r.short_answer:
            assert any(r.short_answer in c.quote for c in r.citations)
        for p in r.passages:
            assert texts[p.doc_id][p.start : p.end] == p.text
    assert n >= 60


def test_the_anchor_question(answers):
    r = answers["q001"]
    assert not r.abstained and r.short_answer == "December 2023"
    assert r.answer.endswith("[1]") and "missile-warning data from December 2023" in r.answer
    assert r.citations[0].doc_id.startswith("001_") and r.citations[0].title.startswith("S. Korea-U.S.-Japan")


@pytest.mark.parametrize("question", ["What is the boiling point of mercury?", "Who painted the Mona Lisa?",
                                      "How many moons does Jupiter have?"])
def test_off_topic_questions_abstain_with_closest_passages(extractive_engine, question):
    r = extractive_engine.ask(question)
    assert r.abstained and r.answer == "The articles do not say." and not r.citations and r.short_answer is None
    assert r.passages  # the closest passages are still offered


def test_some_on_topic_unanswerable_questions_abstain(answers):
    # calibrated on SQuAD training articles, not on these questions: measured 7 of 20, then 5 once
    # index/text/terms.py lost its lists of the seeds' capitals and demonyms (2026-12-01)
    unanswerable = [q["id"] for q in QUESTIONS if not q["answerable"]]
    assert sum(answers[q].abstained for q in unanswerable) >= 4


@pytest.mark.parametrize("qid", ["q001", "q004", "q010", "q020", "q021", "q031", "q040", "q046"])
def test_clear_answerable_questions_are_answered(answers, qid):
    r = answers[qid]
    gold = next(q for q in QUESTIONS if q["id"] == qid)
    assert not r.abstained
    assert any(a.lower() in r.answer.lower() for a in gold["answers"])
    assert len(r.answer.split()) <= 60 + 2 * len(r.citations)


def test_answers_stay_short(answers):
    for r in answers.values():
        quoted = sum(len(c.quote.split()) for c in r.citations)
        assert quoted <= 60 or len(r.citations) == 1


def test_filters_restrict_the_sources(extractive_engine):
    from service.schemas import Filters

    r = extractive_engine.ask("When did real-time missile-data sharing start?", filters=Filters(doc_ids=["004_7a69a8cc4624d686"]))
    assert {p.doc_id for p in r.passages} == {"004_7a69a8cc4624d686"}
    none = extractive_engine.ask("When did real-time missile-data sharing start?", filters=Filters(doc_ids=["nope"]))
    assert none.abstained and none.passages == []
    dated = extractive_engine.search("missile warning data", filters=Filters(date_from="2024-01-01"))
    assert {p.doc_id for p in dated.results} == {"001_12c9ecdcf328fd1a"}  # the only dated article


def test_ask_cli_prints_answer_sources_and_json(seed_index_dir, capsys):
    assert cli.main(["ask", "When did real-time missile-data sharing start?", "--index-dir", str(seed_index_dir)]) == 0
    out = capsys.readouterr().out
    assert "Short answer: December 2023" in out and "[1] S. Korea-U.S.-Japan" in out
    assert cli.main(["ask", "When did real-time missile-data sharing start?", "--json", "--index-dir",
                     str(seed_index_dir)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["short_answer"] == "December 2023" and data["citations"][0]["n"] == 1


def test_ask_cli_without_an_index_fails_clearly(tmp_path, capsys):
    assert cli.main(["ask", "anything?", "--index-dir", str(tmp_path / "none")]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "citeqa ingest" in err and "Traceback" not in err


def test_reordered_passages_reuse_one_analysis_and_only_the_prior_changes(extractive_engine, monkeypatch):
    """The reranker and then the answerer score the same passages within one ask: analysed once."""
    answerer = extractive_engine.answerer
    q = "When did real-time missile-data sharing start?"
    qvec = extractive_engine.embed(q)
    hits = extractive_engine.retriever.run(q, qvec, 5)
    calls = []
    from service.answerers.extractive import scoring

    real = scoring.analyse_uncached
    monkeypatch.setattr(scoring, "analyse_uncached", lambda *a: calls.append(1) or real(*a))
    first, _ = answerer.score(q, qvec, hits)
    flipped = extractive_engine.reranker.run(q, qvec, hits)[::-1]
    second, _ = answerer.score(q, qvec, flipped)
    assert len(calls) == 1
    key = lambda s: (s.row.doc_id, s.row.start)  # noqa: E731
    a, b = {key(s): s for s in first}, {key(s): s for s in second}
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k].sem, a[k].cov, a[k].fit) == (b[k].sem, b[k].cov, b[k].fit)
        assert b[k].hit.chunk.chunk_id in {h.chunk.chunk_id for h in flipped}
    answerer.score(q, extractive_engine.embed(q), hits)  # a new ask (a new query vector) analyses afresh
    assert len(calls) == 2


def test_reranker_scores_equal_the_answerers_sentence_scores(extractive_engine):
    answerer = extractive_engine.answerer
    for q in [x["question"] for x in QUESTIONS[::7]]:
        qvec = extractive_engine.embed(q)
        hits = extractive_engine.retriever.run(q, qvec, 5)
        quick = answerer.sentence_scores(q, qvec, hits)
        scored, _ = answerer.score(q, qvec, hits)
        assert quick.keys() == {(s.row.doc_id, s.row.start) for s in scored}
        assert all(abs(quick[(s.row.doc_id, s.row.start)] - s.score) < 1e-9 for s in scored)

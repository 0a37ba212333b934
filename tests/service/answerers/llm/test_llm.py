"""The generative answerer against a scripted OpenAI-compatible server: claims checked against
their citations, streaming, retries, fallback and errors, the follow-up condensed by the LLM."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from scripted_llm import ScriptedLLM, number_of, true_and_fabricated
from service.server.app import create_app
from service.engine import Engine
from service.answerers.llm.verify import Claim, check, split_claims
from svc_helpers import keyed

QUESTION = "When did real-time missile-data sharing start?"


# ---- the check, pure ---------------------------------------------------------------------------
def _sim(text):
    return {1: 0.9}


def test_claims_are_split_with_their_markers():
    claims = split_claims("Austin visits Seoul [1]. He meets Lee [2][3]. Unsourced line.",
                          lambda t: re.findall(r"[^.]+\.(?:\s*\[\d+\])*", t))
    assert [(c.text, c.cites) for c in claims] == [("Austin visits Seoul.", [1]), ("He meets Lee.", [2, 3]),
                                                   ("Unsourced line.", [])]


@pytest.mark.parametrize("claim,cites,ok,reason", [
    ("Austin will visit Seoul in January.", [1], True, None),
    ("Austin will visit Seoul in 2031.", [1], False, "“2031” is not in the cited sentence"),
    ("Austin will visit Tokyo.", [1], False, "“Tokyo” is not in the cited sentence"),
    ("Austin will visit Seoul.", [7], False, "cites [7], which was not offered"),
    ("Austin will visit Seoul.", [], False, "cites no sentence"),
])
def test_each_claim_is_checked_against_what_it_cites(claim, cites, ok, reason):
    offered = {1: "U.S. Defense Secretary Lloyd Austin will visit Seoul in January, officials said."}
    out = check(Claim(claim, cites), offered, _sim, floor=0.45)
    assert (out.supported, out.reason) == (ok, reason)


def test_a_claim_citing_a_sentence_on_another_topic_fails():
    offered = {n: f"Sentence {n}." for n in range(1, 8)}
    sims = {1: 0.2, 2: 0.7, 3: 0.6, 4: 0.5, 5: 0.1, 6: 0.1, 7: 0.1}
    out = check(Claim("A claim.", [1]), offered, lambda t: sims, floor=0.5)
    assert not out.supported and "3 offered sentences match the claim better" in out.reason
    assert check(Claim("A claim.", [3]), offered, lambda t: sims, floor=0.5).supported  # second best: fine
    assert check(Claim("A claim.", [1]), offered, lambda t: {**sims, 1: 0.55}, floor=0.5).supported  # close enough


# ---- through the engine and the API ---------------------------------------------------------------
@pytest.fixture
def llm():
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm_client(llm, seed_settings, embedder):
    settings = keyed(seed_settings).model_copy(update={"llm_url": llm.url, "llm_model": "scripted",
                                                       "answerer": "llm"})
    engine = Engine.load(settings, embedder=embedder)
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as c:
        yield c
    engine.close()


def test_a_fabricated_claim_is_marked_and_the_true_one_supported(llm, llm_client):
    llm.script = [true_and_fabricated]
    data = llm_client.post("/api/ask", json={"question": QUESTION}).json()
    assert data["answerer"] == "llm" and data["model"] == "scripted" and not data["fallback"]
    true, fabricated = data["claims"]
    assert true["supported"] and true["citations"] == [1]
    assert not fabricated["supported"] and "1999" in fabricated["reason"]
    assert "December 2023" in data["citations"][0]["quote"]  # the exact sentence, as for every answerer
    assert data["answer"].startswith("The three countries agreed") and "[1]" in data["answer"]
    assert data["confidence"] == 0.5
    prompt = llm.requests[0]["messages"][-1]["content"]
    assert "December 2023" in prompt and llm.requests[0]["temperature"] == 0.0


def test_an_llm_that_says_not_found_abstains(llm, llm_client):
    llm.script = ["NOT IN THE ARTICLES"]
    data = llm_client.post("/api/ask", json={"question": "What is the population of Mars?"}).json()
    assert data["abstained"] and data["answer"] == "The articles do not say." and data["passages"]


def test_the_llm_answer_streams_tokens_then_the_checked_answer(llm, llm_client):
    llm.script = [true_and_fabricated]
    with llm_client.stream("POST", "/api/ask", json={"question": QUESTION, "stream": True}) as resp:
        body = "".join(resp.iter_text())
    events = [(b.split("\n")[0][7:], json.loads(b.split("\n")[1][6:])) for b in body.strip().split("\n\n")]
    names = [n for n, _ in events]
    assert names[0] == "passages" and names[-1] == "final" and names.count("token") > 3
    assert "".join(d["text"] for n, d in events if n == "token").startswith("The three countries agreed")
    final = events[-1][1]
    assert [c["supported"] for c in final["claims"]] == [True, False]


def test_retries_then_fallback_then_a_clear_error(llm, llm_client):
    llm.script = [429, true_and_fabricated]  # one 429 is retried
    assert llm_client.post("/api/ask", json={"question": QUESTION}).json()["answerer"] == "llm"
    llm.script = [500, 500, 500]  # the default LLM fails: the embedded answer, said so
    data = llm_client.post("/api/ask", json={"question": QUESTION}).json()
    assert data["fallback"] and data["answerer"] == "reader" and "December 2023" in data["answer"]
    llm.script = [500, 500, 500]  # asked for by name: no silent fallback
    r = llm_client.post("/api/ask", json={"question": QUESTION, "answerer": "llm"})
    assert r.status_code == 502 and "HTTP 500" in r.json()["detail"]


def test_the_llm_condenses_a_follow_up(llm, llm_client):
    llm.script = ["When is Lloyd Austin expected to visit South Korea?",
                  lambda p: f"He is expected to visit later this month [{number_of(p, 'later this month')}]."]
    history = [{"question": "Who is the U.S. defense secretary?", "answer": "Lloyd Austin [1]"}]
    data = llm_client.post("/api/ask", json={"question": "When is he expected to visit?", "history": history}).json()
    assert data["standalone_question"] == "When is Lloyd Austin expected to visit South Korea?"
    assert data["claims"][0]["supported"], data["claims"]
    assert "later this month" in data["answer"]


def test_llm_asked_of_a_server_without_one_is_a_422(client):
    r = client.post("/api/ask", json={"question": QUESTION, "answerer": "llm"})
    assert r.status_code == 422 and "CITEQA_LLM_URL" in r.json()["detail"]
    r = client.post("/api/ask", json={"question": QUESTION, "answerer": "llm", "stream": True})
    assert r.status_code == 422


# ---- the reader's read-back -----------------------------------------------------------------------
def test_cloze_questions_ask_for_each_fact():
    from service.answerers.llm.verify import cloze_questions

    assert cloze_questions("Austin will visit Seoul in March 2024.") == [
        ("Austin will visit Seoul when?", "March 2024"), ("Austin will visit what in March 2024?", "Seoul")]
    assert cloze_questions("The repairs cost 42 million dollars.") == [("The repairs cost how many million dollars?", "42")]


def test_a_claim_that_ties_the_sentences_facts_differently_is_caught_by_the_reader(seed_engine):
    """Every name and month of the claim is in the sentence, but the sentence says otherwise: the
    learned reader, asked the claim as a question, reads back another answer."""
    from service.answerers.llm.verify import read_back

    runner = seed_engine.answerer.runner

    def read(question, passage):
        spans = runner.read(question, [passage])
        return passage[spans[0].start:spans[0].end] if spans and spans[0].margin > 0 else None

    evidence = "Lee Jong-sup will visit Tokyo in March, and Lloyd Austin will visit Seoul in January."
    assert read_back("Lloyd Austin will visit Seoul in January.", evidence, read) is None
    why = read_back("Lloyd Austin will visit Seoul in March.", evidence, read)
    assert why and "January" in why and "not “March”" in why, why


@pytest.mark.parametrize("claim,ok", [
    ("The three countries refused to share real-time missile-warning data [1].", False),
    ("The three countries did not agree to share real-time missile-warning data [1].", False),
    ("The three countries never started sharing missile-warning data [1].", False),
    ("The three countries agreed to start sharing real-time missile-warning data [1].", True),
    ("The three countries did not refuse to share missile-warning data [1].", True),  # a double negation
])
def test_a_claim_that_negates_or_reverses_its_cited_sentence_is_unsupported(claim, ok):
    offered = {1: "The three countries continue to deepen trilateral defense cooperation, agreeing to start "
                  "sharing real-time missile-warning data from December 2023."}
    out = check(Claim(claim.rsplit(" [", 1)[0], [1]), offered, _sim, floor=0.45)
    assert out.supported is ok, out.reason
    if not ok:
        assert "negates" in out.reason or "opposite" in out.reason


def test_a_cited_sentence_with_a_negation_the_claim_drops_is_unsupported():
    offered = {1: "Seoul did not join the sanctions announced by Washington in March."}
    out = check(Claim("Seoul joined the sanctions announced by Washington in March.", [1]), offered, _sim, floor=0.45)
    assert not out.supported and "opposite" in out.reason and "not" in out.reason


def test_claims_are_checked_against_sentences_embedded_alone_over_late_vectors(embedder):
    """Over an index of late sentence vectors (read in their chunk's context) the verifier embeds the
    offered sentences on their own; over separate ones it uses the stored vectors."""
    from service.answerers.llm.answerer import LLMAnswerer

    texts = ["The ministers met in Seoul on Tuesday.", "They agreed to share missile warning data from December."]
    stored = [np.zeros(384, dtype=np.float32), np.zeros(384, dtype=np.float32)]  # stand-ins: no match at all
    offered = [{"n": i + 1, "text": t, "vector": v} for i, (t, v) in enumerate(zip(texts, stored))]
    encode = lambda t: embedder.encode([t], progress=False)[0]  # noqa: E731
    many = lambda ts: embedder.encode(ts, progress=False)  # noqa: E731
    late = LLMAnswerer(None, encode, encode_many=many, sentence_vectors="late").similarities(offered)
    separate = LLMAnswerer(None, encode, encode_many=many, sentence_vectors="separate").similarities(offered)
    sims = late("Missile warning data will be shared from December.")
    assert sims[2] > 0.6 and sims[2] > sims[1]
    assert separate("Missile warning data will be shared from December.") == {1: 0.0, 2: 0.0}

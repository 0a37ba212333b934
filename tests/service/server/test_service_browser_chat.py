"""The conversation in real headless Chromium: a follow-up resolved from the previous turn (the
default reader), "New chat", and an LLM's answer streamed token by token, then shown checked
(a scripted OpenAI-compatible server behind a live `citeqa serve`)."""
from __future__ import annotations

import shutil

import pytest

from scripted_llm import ScriptedLLM, true_and_fabricated
from svc_helpers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def ask(page, question: str):
    before = page.locator(".turn").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    turn = page.locator(".turn").nth(before)
    expect()(turn.locator(".card.answer, .card.error")).to_be_visible(timeout=60_000)
    return turn


def test_a_follow_up_is_answered_from_the_previous_turn(page, live_server):
    page.goto(live_server.url + "/")
    expect()(page.locator("#status")).to_have_attribute("data-state", "ok", timeout=15_000)
    first = ask(page, "Who is the U.S. defense secretary?")
    expect()(first.locator(".answer-text")).to_contain_text("Austin")
    follow = ask(page, "When is he expected to visit South Korea?")
    expect()(follow.locator(".searched-as")).to_contain_text("Lloyd Austin")
    expect()(follow.locator(".answer-text")).to_contain_text("later this month")

    page.locator("#new-chat").click()
    expect()(page.locator(".turn")).to_have_count(0)
    expect()(page.locator("#welcome")).to_be_visible()
    alone = ask(page, "When is he expected to visit South Korea?")
    expect()(alone.locator(".searched-as")).to_have_count(0)  # no history: searched as asked
    assert page.errors == []


@pytest.fixture
def llm_server(seed_index_dir, embedder, tmp_path):
    with ScriptedLLM() as llm:
        shutil.copytree(seed_index_dir, tmp_path / "index")
        server = LiveServer(tmp_path / "index", tmp_path, model_name=embedder.model_name,
                            extra_env={"CITEQA_LLM_URL": llm.url, "CITEQA_ANSWERER": "llm", "CITEQA_LLM_MODEL": "scripted"})
        try:
            server.wait_ready()
            yield server, llm
        finally:
            server.stop()


def test_an_llm_answer_streams_and_its_unsupported_claim_is_struck(page, llm_server):
    server, llm = llm_server
    llm.chunk_delay = 0.05
    llm.script = [true_and_fabricated]
    page.goto(server.url + "/")
    expect()(page.locator("#status")).to_have_attribute("data-state", "ok", timeout=15_000)
    page.locator("#question").fill("When did real-time missile-data sharing start?")
    page.locator("#question").press("Enter")
    live = page.locator(".answer-text.live")
    expect()(live).to_contain_text("The three countries", timeout=30_000)  # tokens before the answer is done
    card = page.locator(".card.answer")
    expect()(card).to_be_visible(timeout=30_000)
    expect()(card.locator(".claims-box summary")).to_have_text("1 of 2 claims not supported by their sources")
    expect()(card.locator(".claim.unsupported del")).to_contain_text("1999 summit in Paris")
    expect()(card.locator(".claim.unsupported .claim-reason")).to_contain_text("1999")
    expect()(card.locator(".answer-text button.cite").first).to_have_text("[1]")
    assert page.errors == []


@pytest.fixture
def abstaining_server(seed_index_dir, embedder, tmp_path):
    """The real reader with its threshold at 1: it abstains on every question (issue 23, point 3)."""
    shutil.copytree(seed_index_dir, tmp_path / "index")
    server = LiveServer(tmp_path / "index", tmp_path, model_name=embedder.model_name,
                        extra_env={"CITEQA_ABSTAIN_THRESHOLD": "1.0"})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_an_abstention_shows_the_closest_sentence_and_why(page, abstaining_server):
    page.goto(abstaining_server.url + "/")
    expect()(page.locator("#status")).to_have_attribute("data-state", "ok", timeout=15_000)
    turn = ask(page, "When did real-time missile-data sharing start?")
    expect()(turn.locator(".answer-text")).to_contain_text("The articles do not say")
    why = turn.locator(".abstain-why")
    expect()(why).to_contain_text("closest to the question")
    expect()(why).to_contain_text("no answer")
    closest = turn.locator(".sources.closest li")
    expect()(closest).to_have_count(1)
    import httpx

    data = httpx.post(abstaining_server.url + "/api/ask", json={"question": "When did real-time missile-data sharing start?"},
                      timeout=60).json()
    assert data["closest"] and "missile" in data["closest"]["quote"]
    expect()(closest).to_contain_text(data["closest"]["quote"])  # the API's closest sentence, quoted exactly
    off = ask(page, "What is the population of Mars?")
    expect()(off.locator(".abstain-why")).to_have_count(0)  # nothing close: no explanation invented
    assert page.errors == []

"""The chat page in a real headless Chromium against a live `citeqa serve`.

Skipped when /usr/bin/chromium is missing, except with CI=true, where that is a failure.
Set CITEQA_SCREENSHOT=path/to.png to save the page after the anchor question (docs/screenshot.png).
"""
from __future__ import annotations

import os

import httpx
import pytest

from svc_helpers import ANCHOR_QUESTION, AUTH

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOAD_SCRIPT = "<script>window.__pwned=1</script>"
PAYLOAD_IMG = '<img src=x onerror="window.__pwned=1">'


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def ask_in_page(page, question: str) -> None:
    box = page.locator("#question")
    box.click()
    box.fill(question)
    box.press("Enter")  # keyboard only: Enter sends


def test_ask_click_marker_and_see_the_highlighted_quote(page, live_server):
    page.goto(live_server.url + "/")
    expect()(page.locator("#status")).to_have_attribute("data-state", "ok", timeout=15_000)
    expect()(page.locator("#status-text")).to_have_text("5 articles indexed")

    ask_in_page(page, ANCHOR_QUESTION)
    card = page.locator(".card.answer").last
    expect()(card).to_be_visible(timeout=30_000)
    expect()(card.locator(".badge")).to_have_text("Answer")
    expect()(card.locator(".answer-text")).to_contain_text("December 2023")
    expect()(card.locator(".short-answer strong")).to_have_text("December 2023")
    marker = card.locator(".answer-text button.cite", has_text="[1]")
    expect()(marker).to_be_visible()
    expect()(card.locator(".sources li")).to_have_count(1)
    expect()(card.locator(".source-quote")).to_contain_text("December 2023")

    marker.click()
    mark = page.locator("#reader-body mark")
    expect()(mark).to_be_visible()
    expect()(mark).to_contain_text("December 2023")
    expect()(mark).to_be_in_viewport()
    expect()(page.locator("#reader-title")).to_have_text("S. Korea-U.S.-Japan Strengthen Trilateral Cooperation")
    # the highlighted text is exactly the cited quote
    quote = httpx.post(live_server.url + "/api/ask", json={"question": ANCHOR_QUESTION}).json()["citations"][0]["quote"]
    assert mark.text_content() == quote

    if os.environ.get("CITEQA_SCREENSHOT"):
        page.wait_for_timeout(300)
        page.screenshot(path=os.environ["CITEQA_SCREENSHOT"])

    # keyboard: Escape closes the article, a source opens it again
    page.keyboard.press("Escape")
    expect()(page.locator("#reader")).to_be_hidden()
    card.locator(".sources button.source").first.click()
    expect()(page.locator("#reader-body mark")).to_contain_text("December 2023")

    # an abstention looks different and still offers the closest passages
    ask_in_page(page, "What is the population of Mars?")
    abstained = page.locator(".card.answer.abstained")
    expect()(abstained).to_be_visible(timeout=30_000)
    expect()(abstained.locator(".badge")).to_have_text("Not in the articles")
    expect()(abstained.locator(".answer-text")).to_have_text("The articles do not say.")
    assert abstained.locator(".passage").count() >= 1
    abstained.locator(".passage").first.click()
    expect()(page.locator("#reader-body mark.passage")).to_be_visible()
    assert page.errors == []


def test_loading_state_and_server_errors_are_shown(page, live_server):
    page.goto(live_server.url + "/")
    held = []
    page.route("**/api/ask", lambda route: held.append(route))
    ask_in_page(page, "Will this fail?")
    expect()(page.locator(".card.pending")).to_be_visible()
    expect()(page.locator("#send")).to_be_disabled()
    assert held, "the request was not intercepted"
    held[0].fulfill(status=500, content_type="application/json", body='{"detail": "internal server error"}')
    error = page.locator(".card.error")
    expect()(error).to_be_visible()
    expect()(error).to_contain_text("internal server error")
    expect()(page.locator("#send")).to_be_enabled()

    page.unroute("**/api/ask")
    page.route("**/api/ask", lambda route: route.abort())
    ask_in_page(page, "And now the server is gone?")
    expect()(page.locator(".card.error").last).to_contain_text("Cannot reach the server")
    assert page.errors == []


def test_article_markup_renders_inert(page, live_server):
    article = {
        "doc_id": "xss-festival",
        "title": f"{PAYLOAD_IMG} Harbor festival",
        "date": "2024-06-01",
        # the emoji before the cited sentence shift UTF-16 indexes: the page must convert offsets
        "text": f"Harbor lights festival 🚀 report.\n\nThe program listed {PAYLOAD_SCRIPT} and {PAYLOAD_IMG} as "
                "exhibits. 🎆 The harbor lights festival drew 12,400 visitors on Saturday, organizers said.\n\n"
                "It ends on Sunday.",
    }
    r = httpx.post(live_server.url + "/api/documents", json=article, headers=AUTH, timeout=60)
    assert r.status_code in (200, 201), r.text
    question = "How many visitors did the harbor lights festival draw?"
    citation = httpx.post(live_server.url + "/api/ask", json={"question": question}).json()["citations"][0]
    assert citation["doc_id"] == "xss-festival"

    try:
        page.goto(live_server.url + "/")
        ask_in_page(page, question)
        card = page.locator(".card.answer").last
        expect()(card).to_be_visible(timeout=30_000)
        card.locator("button.cite").first.click()
        mark = page.locator("#reader-body mark")
        expect()(mark).to_be_visible()
        assert mark.text_content() == citation["quote"]

        body = page.locator("#reader-body")
        expect()(body).to_contain_text(PAYLOAD_SCRIPT)  # shown as text, not run
        expect()(body).to_contain_text(PAYLOAD_IMG)
        expect()(page.locator("#reader-title")).to_have_text(article["title"])
        expect()(card.locator(".source-title")).to_have_text(article["title"])
        page.wait_for_timeout(300)  # give a (broken) onerror handler time to fire
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("main img, #reader img, main script, #reader script").count() == 0
        assert page.errors == []
    finally:
        httpx.delete(live_server.url + "/api/documents/xss-festival", headers=AUTH)


def test_phone_width(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        ask_in_page(page, ANCHOR_QUESTION)
        card = page.locator(".card.answer").last
        expect()(card).to_be_visible(timeout=30_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the page scrolls sideways at 360 px ({width} px wide)"
        card.locator("button.cite").first.tap()
        reader = page.locator("#reader")
        expect()(reader).to_be_visible()
        box = reader.bounding_box()
        assert box and box["width"] <= 360 and box["x"] >= 0
        expect()(page.locator("#reader-body mark")).to_be_in_viewport()
        page.locator("#reader-close").tap()
        expect()(reader).to_be_hidden()
    finally:
        context.close()


def test_an_articles_own_bracketed_numbers_are_not_clickable(page, live_server):
    article = {
        "doc_id": "glass-museum",
        "title": "Glass museum reopens",
        "date": "2024-06-03",
        "text": "The Glass Museum reopened on June 3 after a renovation that cost 9 million euros [2], the city "
                "said [1]. Curators added forty new rooms.\n\nThe museum expects 300,000 visitors a year.",
    }
    r = httpx.post(live_server.url + "/api/documents", json=article, headers=AUTH, timeout=60)
    assert r.status_code in (200, 201), r.text
    question = "How much did the Glass Museum renovation cost?"
    data = httpx.post(live_server.url + "/api/ask", json={"question": question}).json()
    assert data["citations"][0]["doc_id"] == "glass-museum" and "[1]" in data["citations"][0]["quote"]
    try:
        page.goto(live_server.url + "/")
        ask_in_page(page, question)
        card = page.locator(".card.answer").last
        expect()(card).to_be_visible(timeout=30_000)
        text = card.locator(".answer-text")
        expect()(text).to_contain_text("9 million euros \uff3b2\uff3d, the city said \uff3b1\uff3d")
        expect()(text.locator("button.cite")).to_have_count(len(data["citations"]))
        if data["short_answer_span"]:  # the quote is still found in the answer to mark the short answer
            expect()(text.locator("mark.short-span")).to_have_text(data["short_answer"])
        text.locator("button.cite").first.click()
        mark = page.locator("#reader-body mark").first
        expect()(mark).to_be_visible()
        assert mark.text_content() == data["citations"][0]["quote"]  # the article itself keeps its "[1]"
        assert page.errors == []
    finally:
        httpx.delete(live_server.url + "/api/documents/glass-museum", headers=AUTH)

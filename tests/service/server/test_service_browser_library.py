"""The chat page's article library in real headless Chromium against a live `citeqa serve` (which
has an API key): upload by file picker and by drag and drop (the key asked for once), the list,
the filter applied to questions, delete with a confirmation. Leaves the server's articles as found."""
from __future__ import annotations

import httpx
import pytest

from svc_helpers import API_KEY, AUTH

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BRIDGE = ("Harbor bridge reopens after repairs\n\nPublished: 2024-05-02\n\n"
          "The Harbor Bridge reopened to traffic on May 2, 2024, after eleven months of repairs. "
          "City engineers said the repairs cost 42 million dollars. "
          "The bridge carries about 80,000 vehicles a day.\n")
FERRY = ("Ferry strike ends\n\nFerry workers ended their strike on Tuesday after a 9 percent pay deal. "
         "Service resumes on Thursday, the operator said.\n")


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def ask(page, question: str):
    box = page.locator("#question")
    box.fill(question)
    box.press("Enter")
    before = page.locator(".turn").count()
    card = page.locator(".turn").nth(before - 1).locator(".card.answer, .card.error")
    expect()(card).to_be_visible(timeout=30_000)
    return card


def test_upload_ask_filter_and_delete_from_the_page(page, live_server):
    page.goto(live_server.url + "/")
    expect()(page.locator("#status-text")).to_have_text("5 articles indexed", timeout=15_000)
    page.locator("#library-open").click()
    expect()(page.locator("#library")).to_be_visible()
    expect()(page.locator("#doc-list li")).to_have_count(5)

    # the file picker; the server wants its key: asked for, then the upload goes through
    page.locator("#file-input").set_input_files(
        [{"name": "harbor-bridge.txt", "mimeType": "text/plain", "buffer": BRIDGE.encode()}])
    expect()(page.locator("#key-form")).to_be_visible(timeout=15_000)
    page.locator("#api-key").fill(API_KEY)
    page.locator("#key-form button").click()
    row = page.locator(".upload", has_text="harbor-bridge.txt")
    expect()(row.locator(".upload-state")).to_contain_text("Added as", timeout=60_000)
    expect()(page.locator("#doc-list li")).to_have_count(6)
    expect()(page.locator("#status-text")).to_have_text("6 articles indexed")
    assert page.locator("#doc-list li[data-doc-id='harbor-bridge'] .doc-meta").text_content().startswith("2024-05-02")

    # drag and drop: a second file, the key already kept for the session
    page.evaluate("""(text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], "ferry-strike.txt", { type: "text/plain" }));
        document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
    }""", FERRY)
    expect()(page.locator(".upload", has_text="ferry-strike.txt").locator(".upload-state")).to_contain_text(
        "Added as", timeout=60_000)
    expect()(page.locator("#doc-list li")).to_have_count(7)

    # an unsupported file is refused in the page, with the reason
    page.locator("#file-input").set_input_files([{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG"}])
    expect()(page.locator(".upload.error", has_text="photo.png")).to_contain_text("Not a supported file")

    page.locator("#library-close").click()
    card = ask(page, "How much did the Harbor Bridge repairs cost?")
    expect()(card.locator(".answer-text")).to_contain_text("42 million")
    expect()(card.locator(".source-title").first).to_have_text("Harbor bridge reopens after repairs")

    # the filter: only the ferry article -> the bridge question is not answered from it
    page.locator("#library-open").click()
    page.locator("#doc-list li[data-doc-id='ferry-strike'] input").check()
    expect()(page.locator("#filter-note")).to_have_text("Asking only: 1 chosen article")
    card = ask(page, "How much did the Harbor Bridge repairs cost?")
    expect()(card.locator(".badge")).to_have_text("Not in the articles")
    # dates: nothing dated before 2000 -> nothing to answer from
    page.locator("#filter-clear").click()
    page.locator("#date-to").fill("1999-12-31")
    page.locator("#date-to").dispatch_event("change")
    expect()(page.locator("#filter-note")).to_contain_text("dated … to 1999-12-31")
    card = ask(page, "How much did the Harbor Bridge repairs cost?")
    expect()(card.locator(".badge")).to_have_text("Not in the articles")
    page.locator("#filter-clear").click()
    expect()(page.locator("#filter-note")).to_be_hidden()

    # delete, confirmed; a dismissed confirmation deletes nothing
    page.once("dialog", lambda d: d.dismiss())
    page.locator("#doc-list li[data-doc-id='harbor-bridge'] .doc-delete").click()
    expect()(page.locator("#doc-list li")).to_have_count(7)
    for doc_id in ("harbor-bridge", "ferry-strike"):
        page.once("dialog", lambda d: d.accept())
        page.locator(f"#doc-list li[data-doc-id='{doc_id}'] .doc-delete").click()
        expect()(page.locator(f"#doc-list li[data-doc-id='{doc_id}']")).to_have_count(0)
    expect()(page.locator("#status-text")).to_have_text("5 articles indexed")
    ids = {d["doc_id"] for d in httpx.get(live_server.url + "/api/documents").json()}
    assert "harbor-bridge" not in ids and len(ids) == 5
    page.locator("#library-close").click()
    card = ask(page, "How much did the Harbor Bridge repairs cost?")
    expect()(card.locator(".badge")).to_have_text("Not in the articles")
    assert page.errors == []


@pytest.fixture(autouse=True)
def _leave_the_articles_as_found(live_server):
    yield
    for doc_id in ("harbor-bridge", "ferry-strike", "velmont", "brief"):
        httpx.delete(live_server.url + f"/api/documents/{doc_id}", headers=AUTH, timeout=30)


def test_a_pdf_uploaded_in_the_page_is_cited_with_its_page(page, live_server, tmp_path):
    from eval.bench.pdf_gen import Page, make_docx, make_pdf
    from formats_data import P1, P2

    pdf = make_pdf(tmp_path / "velmont.pdf", "Velmont harbour report", [Page(P1), Page(P2)], columns=2)
    docx = make_docx(tmp_path / "brief.docx", "Velmont harbour brief", [(None, P1)])
    page.goto(live_server.url + "/")
    expect()(page.locator("#status")).to_have_attribute("data-state", "ok", timeout=15_000)
    page.evaluate("k => sessionStorage.setItem('citeqa-api-key', k)", API_KEY)
    page.locator("#library-open").click()
    page.locator("#file-input").set_input_files([str(pdf), str(docx)])
    for name in ("velmont.pdf", "brief.docx"):
        expect()(page.locator(".upload", has_text=name).locator(".upload-state")).to_contain_text(
            "Added as", timeout=60_000)
    page.locator("#library-close").click()
    card = ask(page, "When was the Zephyr bridge opened?")
    expect()(card.locator(".answer-text")).to_contain_text("14 March 1931")
    expect()(card.locator(".source-date").first).to_contain_text("p. 2")
    card = ask(page, "What did the harbour authority of Velmont publish?")
    expect()(card.locator(".answer-text")).to_contain_text("annual report")
    assert page.errors == []
    for doc_id in ("velmont", "brief"):
        httpx.delete(live_server.url + f"/api/documents/{doc_id}", headers=AUTH, timeout=30)

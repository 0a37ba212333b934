"""Adding, replacing and deleting articles through the API: auth, uploads, durability."""
from __future__ import annotations

import re
import unicodedata

import pytest
from fastapi.testclient import TestClient

from service.server.app import create_app
from service.engine import Engine
from service.server.middleware.security import is_loopback, key_matches
from svc_helpers import API_KEY, AUTH, keyed

ARTICLE = {
    "doc_id": "harbor-bridge",
    "title": "Harbor bridge reopens after repairs",
    "date": "2024-05-02",
    "text": "The Harbor Bridge reopened to traffic on May 2, 2024, after eleven months of repairs. "
            "City engineers said the repairs cost 42 million dollars. "
            "The bridge carries about 80,000 vehicles a day.",
}
QUESTION = "How much did the Harbor Bridge repairs cost?"


def ask(client, question=QUESTION):
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def search_text(client, query=QUESTION) -> str:
    """The text of the top search hit for a query, with its doc_id."""
    r = client.post("/api/search", json={"query": query, "top_k": 1})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    return f"{results[0]['doc_id']}: {results[0]['text']}" if results else ""


def test_add_replace_delete_roundtrip(writer):
    r = writer.post("/api/documents", json=ARTICLE, headers=AUTH)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["doc_id"] == "harbor-bridge" and doc["title"] == ARTICLE["title"] and doc["date"] == "2024-05-02"
    assert doc["chunks"] >= 1 and len(doc["sha256"]) == 64 and "42 million dollars" in doc["text"]
    assert "harbor-bridge" in {d["doc_id"] for d in writer.get("/api/documents").json()}

    # searchable and answerable on the very next request
    assert search_text(writer).startswith("harbor-bridge:") and "42 million" in search_text(writer)
    data = ask(writer)
    assert not data["abstained"] and data["citations"][0]["doc_id"] == "harbor-bridge"
    assert writer.get("/readyz").json()["documents"] == 6

    replaced = {**ARTICLE, "text": ARTICLE["text"].replace("42 million", "57 million")}
    r = writer.post("/api/documents", json=replaced, headers=AUTH)
    assert r.status_code == 200, r.text  # same id: replaced, not created
    assert "57 million" in r.json()["text"]
    assert "57 million" in search_text(writer) and "42 million" not in search_text(writer)
    assert len(writer.get("/api/documents").json()) == 6

    r = writer.delete("/api/documents/harbor-bridge", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"doc_id": "harbor-bridge", "deleted": True}
    assert writer.get("/api/documents/harbor-bridge").status_code == 404
    data = ask(writer)
    assert all(c["doc_id"] != "harbor-bridge" for c in data["citations"])
    assert all(p["doc_id"] != "harbor-bridge" for p in data["passages"])
    r = writer.delete("/api/documents/harbor-bridge", headers=AUTH)
    assert r.status_code == 404 and r.json()["detail"]


def test_writes_survive_a_restart(writable_engine, embedder):
    settings = keyed(writable_engine.settings)
    with TestClient(create_app(settings, engine=writable_engine)) as c:
        assert c.post("/api/documents", json=ARTICLE, headers=AUTH).status_code == 201
        assert c.delete("/api/documents/004_7a69a8cc4624d686", headers=AUTH).status_code == 200

    # a new engine and app over the same index folder, as after a restart
    engine2 = Engine.load(writable_engine.settings, embedder=embedder)
    try:
        with TestClient(create_app(settings, engine=engine2)) as c:
            ids = {d["doc_id"] for d in c.get("/api/documents").json()}
            assert "harbor-bridge" in ids and "004_7a69a8cc4624d686" not in ids
            assert c.get("/api/documents/harbor-bridge").json()["text"].startswith("The Harbor Bridge")
            assert search_text(c).startswith("harbor-bridge:")
            assert ask(c)["citations"][0]["doc_id"] == "harbor-bridge"
            results = c.post("/api/search", json={"query": "trilateral deterrence Tokyo vice foreign ministers",
                                                  "top_k": 20}).json()["results"]
            assert all(p["doc_id"] != "004_7a69a8cc4624d686" for p in results)
    finally:
        engine2.close()


def test_generated_doc_id(writer):
    r = writer.post("/api/documents", json={"text": "A lighthouse keeper counted 312 ships in March."}, headers=AUTH)
    assert r.status_code == 201
    assert r.json()["doc_id"].startswith("doc-")


# ---- uploads -----------------------------------------------------------------------------------
def test_upload_text_file(writer):
    files = {"file": ("ferry-strike.txt", "Ferry workers ended their strike on Tuesday after a 9 percent pay deal.\n"
                                          "Service resumes on Thursday.".encode(), "text/plain")}
    r = writer.post("/api/documents", files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["doc_id"] == "ferry-strike"
    assert search_text(writer, "What pay deal ended the ferry strike?").startswith("ferry-strike:")


def test_upload_html_file_with_fields(writer):
    html = ("<html><head><title>Orchard frost</title></head><body><article><h1>Orchard frost</h1>"
            "<p>A late frost destroyed about 30 percent of the apple blossoms in the valley, growers said.</p>"
            "<p>Insurers expect claims to rise.</p></article></body></html>")
    r = writer.post("/api/documents", files={"file": ("orchard.html", html.encode(), "text/html")},
                    data={"doc_id": "orchard-2024", "date": "2024-04-20"}, headers=AUTH)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["doc_id"] == "orchard-2024" and doc["date"] == "2024-04-20"
    assert "<p>" not in doc["text"] and "30 percent" in doc["text"]


def test_upload_markdown_replaces(writer):
    body = b"# Tide tables\n\nThe spring tide peaked at 4.1 meters on Sunday."
    files = {"file": ("tides.md", body, "text/markdown")}
    assert writer.post("/api/documents", files=files, headers=AUTH).status_code == 201
    assert writer.post("/api/documents", files=files, headers=AUTH).status_code == 200


def test_a_two_page_pdf_is_answered_from_page_2_with_the_page_in_the_citation(writer, tmp_path):
    from eval.bench.pdf_gen import Page, make_pdf
    from formats_data import P1, P2

    pdf = make_pdf(tmp_path / "velmont.pdf", "Velmont harbour report", [Page(P1), Page(P2)], columns=2)
    r = writer.post("/api/documents", files={"file": ("velmont.pdf", pdf.read_bytes(), "application/pdf")},
                    headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["doc_id"] == "velmont" and "Zephyr bridge" in r.json()["text"]
    data = ask(writer, "When was the Zephyr bridge opened?")
    assert not data["abstained"] and "14 March 1931" in data["answer"], data["answer"]
    cited = [c for c in data["citations"] if c["doc_id"] == "velmont"]
    assert cited and cited[0]["page"] == 2 and "Zephyr" in cited[0]["quote"]
    assert all(p["page"] is None for p in data["passages"] if p["doc_id"] != "velmont")


def test_a_docx_upload_is_answered_with_no_page(writer, tmp_path):
    from eval.bench.pdf_gen import make_docx
    from formats_data import P1, P2

    path = make_docx(tmp_path / "brief.docx", "Velmont harbour brief", [(None, P1), ("The bridge", P2)])
    r = writer.post("/api/documents", files={"file": ("brief.docx", path.read_bytes(), "application/octet-stream")},
                    headers=AUTH)
    assert r.status_code == 201, r.text
    data = ask(writer, "How long is the central span of the Zephyr bridge?")
    assert not data["abstained"] and "212 metres" in data["answer"], data["answer"]
    cited = [c for c in data["citations"] if c["doc_id"] == "brief"]
    assert cited and cited[0]["page"] is None


def test_a_scanned_pdf_upload_is_a_clear_400(writer, tmp_path):
    from eval.bench.pdf_gen import Page, make_pdf

    pdf = make_pdf(tmp_path / "scan.pdf", "x", [Page(["x"])], text_layer=False)
    r = writer.post("/api/documents", files={"file": ("scan.pdf", pdf.read_bytes(), "application/pdf")},
                    headers=AUTH)
    assert r.status_code == 400 and "no text layer" in r.json()["detail"], r.text


@pytest.mark.parametrize("name,payload,status,needle", [
    ("latin1.txt", "Caf\u00e9 prices rose.".encode("latin-1"), 400, "UTF-8"),
    ("binary.txt", b"\x00\x01\x02abc", 400, "NUL"),
    ("photo.jpg", b"\xff\xd8\xff\xe0", 422, "unsupported file type"),
    ("noext", b"text", 422, "unsupported file type"),
    ("empty.txt", b"", 422, "text"),
    ("blank.txt", b"   \n\t ", 422, "unusable"),
])
def test_bad_uploads(writer, name, payload, status, needle):
    r = writer.post("/api/documents", files={"file": (name, payload, "application/octet-stream")}, headers=AUTH)
    assert r.status_code == status, r.text
    assert needle in str(r.json()["detail"])


def test_upload_without_file_field(writer):
    r = writer.post("/api/documents", data={"title": "no file"}, files={"other": ("x.txt", b"x")}, headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]


def test_upload_over_1mb_is_413(writer):
    r = writer.post("/api/documents", files={"file": ("big.txt", b"word " * 220_000, "text/plain")}, headers=AUTH)
    assert r.status_code == 413


@pytest.mark.parametrize("body,status", [
    ({"text": ""}, 422),
    ({"text": "   "}, 422),
    ({"title": "no text"}, 422),
    ({"text": "ok", "doc_id": "../../etc/passwd"}, 422),
    ({"text": "ok", "doc_id": ""}, 422),
    ({"text": "ok", "date": "yesterday"}, 422),
    ({"text": "ok", "extra": 1}, 422),
    ({"text": 5}, 422),
    ([], 422),
])
def test_bad_json_documents(writer, body, status):
    r = writer.post("/api/documents", json=body, headers=AUTH)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_bad_raw_document_bodies(writer):
    h = {**AUTH, "content-type": "application/json"}
    assert writer.post("/api/documents", content=b'{"text": "caf\xe9"}', headers=h).status_code == 400
    r = writer.post("/api/documents", content=b'{"text": "lone \\ud800 surrogate"}', headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
    r = writer.post("/api/documents", content=b'{"text": ', headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = writer.post("/api/documents", content=b"plain words", headers={**AUTH, "content-type": "text/plain"})
    assert r.status_code == 415
    r = writer.post("/api/documents", content=b"--b\r\nbroken", headers={**AUTH, "content-type": "multipart/form-data"})
    assert r.status_code in (400, 422)


# ---- who may write -----------------------------------------------------------------------------
def test_writes_need_the_key_when_configured(writer):
    r = writer.post("/api/documents", json=ARTICLE)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = writer.post("/api/documents", json=ARTICLE, headers={"Authorization": f"Basic {API_KEY}"})
    assert r.status_code == 401
    r = writer.post("/api/documents", json=ARTICLE, headers={"Authorization": "Bearer wrong-key"})
    assert r.status_code == 403
    r = writer.post("/api/documents", json=ARTICLE, headers={"Authorization": f"Bearer {API_KEY}x"})
    assert r.status_code == 403
    r = writer.delete("/api/documents/001_12c9ecdcf328fd1a", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403
    assert writer.delete("/api/documents/001_12c9ecdcf328fd1a").status_code == 401
    assert len(writer.get("/api/documents").json()) == 5  # nothing changed
    # reads never need the key
    assert writer.post("/api/ask", json={"question": QUESTION}).status_code == 200


@pytest.mark.parametrize("host,allowed", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("203.0.113.7", False), ("10.0.0.2", False), ("::ffff:10.0.0.2", False), ("testclient", False),
    ("localhost.evil.com", False),
])
def test_without_a_key_only_loopback_may_write(writable_engine, host, allowed):
    app = create_app(writable_engine.settings, engine=writable_engine)  # settings have api_key=None
    with TestClient(app, client=(host, 50000)) as c:
        r = c.post("/api/documents", json=ARTICLE)
        assert r.status_code == (201 if allowed else 403), r.text
        if not allowed:
            assert "CITEQA_API_KEY" in r.json()["detail"]
        assert c.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_security_helpers():
    assert key_matches("abc", "abc") and not key_matches("abc", "abd") and not key_matches("", "abc")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback(None) and not is_loopback("")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.1")


@pytest.mark.parametrize("path", ["/api/documents", "/api/ask", "/api/search"])
def test_deeply_nested_json_is_a_400(writer, path):
    for depth in (100_000, 2_000):
        body = b'{"text": ' + b"[" * depth + b"]" * depth + b"}"
        r = writer.post(path, content=body, headers={**AUTH, "content-type": "application/json"})
        assert r.status_code in (400, 422), (depth, r.text)
        assert r.json()["detail"]
    r = writer.post(path, content=b"[" * 100_000, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"detail": "the JSON body is nested too deeply"}


# ---- ids from Unicode file names, and "replaced" ----------------------------------------------
def upload(client, name: str, text: str, **data):
    return client.post("/api/documents", files={"file": (name, text.encode(), "text/plain")}, data=data, headers=AUTH)


def test_unicode_file_names_keep_their_letters_and_replacing_says_so(writer):
    r = upload(writer, "뉴스 1.txt", "서울 시장은 월요일에 새 버스 노선을 발표했다.")
    assert r.status_code == 201 and r.json()["doc_id"] == "뉴스-1" and r.json()["replaced"] is False, r.text
    r = upload(writer, "기사 1.txt", "부산 항구는 화요일에 다시 문을 열었다.")
    assert r.status_code == 201 and r.json()["doc_id"] == "기사-1" and r.json()["replaced"] is False, r.text
    assert "서울" in writer.get("/api/documents/뉴스-1").json()["text"]  # not replaced by the second file

    # the same name again replaces, and says so; a macOS (NFD) name is the same name
    nfd = unicodedata.normalize("NFD", "뉴스 1.txt")
    assert nfd != "뉴스 1.txt"
    r = upload(writer, nfd, "서울 시장은 화요일에 버스 노선을 취소했다.")
    assert r.status_code == 200 and r.json()["doc_id"] == "뉴스-1" and r.json()["replaced"] is True, r.text
    assert "취소" in writer.get("/api/documents/뉴스-1").json()["text"]
    ids = {d["doc_id"] for d in writer.get("/api/documents").json()}
    assert {"뉴스-1", "기사-1"} <= ids and len(ids) == 7

    # an explicit Unicode doc_id, in JSON
    r = writer.post("/api/documents", json={"doc_id": "기사-1", "text": "부산 항구는 수요일에 닫혔다."}, headers=AUTH)
    assert r.status_code == 200 and r.json()["replaced"] is True
    r = writer.post("/api/documents", json={**ARTICLE}, headers=AUTH)
    assert r.status_code == 201 and r.json()["replaced"] is False
    assert writer.delete("/api/documents/뉴스-1", headers=AUTH).status_code == 200


@pytest.mark.parametrize("name,doc_id", [
    ("Café Prices.txt", "Café-Prices"), ("новости-2024.md", "новости-2024"), ("हिन्दी समाचार.txt", "हिन्दी-समाचार"),
    ("a/b\\c..txt", "c"), ("  __notes__ .txt", "notes__"), ("x\u202ey\u200bz.txt", "x-y-z"), ("!!!.txt", None),
])
def test_ids_from_file_names(name, doc_id):
    from pathlib import PurePosixPath

    from service.doc_ids import id_from_filename, is_valid_id

    got = id_from_filename(PurePosixPath(name.replace("\\", "/")).stem)
    assert got == doc_id
    assert got is None or is_valid_id(got)


@pytest.mark.parametrize("doc_id", ["-x", "_x", ".x", "../x", "a/b", "a b", "x\u200by", "\u0301x", "a" * 201])
def test_bad_unicode_doc_ids_are_refused(writer, doc_id):
    r = writer.post("/api/documents", json={"doc_id": doc_id, "text": "ok"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "doc_id"], r.text


# ---- an article's own "[1]" -------------------------------------------------------------------
BRACKETS = {
    "doc_id": "glass-museum",
    "title": "Glass museum reopens",
    "date": "2024-06-03",
    "text": "The Glass Museum reopened on June 3 after a renovation that cost 9 million euros [2], the city "
            "said [1]. Curators added forty new rooms.\n\nThe museum expects 300,000 visitors a year.",
}
BRACKETS_QUESTION = "How much did the Glass Museum renovation cost?"


def test_an_articles_literal_markers_are_not_citations(writer):
    assert writer.post("/api/documents", json=BRACKETS, headers=AUTH).status_code == 201
    data = ask(writer, BRACKETS_QUESTION)
    c1 = data["citations"][0]
    assert c1["doc_id"] == "glass-museum" and "[2]" in c1["quote"] and "[1]" in c1["quote"]
    doc = writer.get("/api/documents/glass-museum").json()
    assert doc["text"][c1["start"]:c1["end"]] == c1["quote"]  # the quote stays the article's text
    # in the answer, every [n] is a citation marker and the article's own numbers are not
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", data["answer"])]
    assert markers and set(markers) == {c["n"] for c in data["citations"]}, data["answer"]
    assert "9 million euros \uff3b2\uff3d, the city said \uff3b1\uff3d" in data["answer"]


def test_long_file_names_sharing_their_start_keep_distinct_ids(writer):
    from service.doc_ids import MAX_ID_CHARS, id_from_filename, is_valid_id

    base = "Seoul-Tokyo-missile-data-" * 12  # 300 characters
    ids = {id_from_filename(base + tail) for tail in ("one", "two", "x" * 3700)}
    assert len(ids) == 3 and all(is_valid_id(i) and len(i) <= MAX_ID_CHARS for i in ids)
    assert id_from_filename(base + "one") == id_from_filename(base + "one")  # stable: a re-upload replaces
    assert id_from_filename("a" * 200) == "a" * 200 and id_from_filename("Café Prices") == "Café-Prices"
    first = writer.post("/api/documents", files={"file": (base + "one.txt", b"The first article.", "text/plain")},
                        headers=AUTH)
    second = writer.post("/api/documents", files={"file": (base + "two.txt", b"The second article.", "text/plain")},
                         headers=AUTH)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["doc_id"] != second.json()["doc_id"] and second.json()["replaced"] is False

"""Cross-site writes and DNS rebinding from a real Chromium against a live `citeqa serve` with no
API key (the default of `make run`), and the "local" check against proxy headers on a real socket."""
from __future__ import annotations

import http.server
import shutil
import socket
import threading

import httpx
import pytest

from svc_helpers import CHROMIUM, CHROMIUM_ARGS, REBIND_NAME, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED_DOC = "001_12c9ecdcf328fd1a"
EVIL = "Evil text replaced the article."

# The attacker's page: the multipart no-cors POST that a CORS "simple" request lets through.
ATTACK_JS = """
async function attack(target) {
  const results = [];
  for (const id of ["%s", "evil-page"]) {
    const fd = new FormData();
    fd.append("file", new Blob(["%s"], {type: "text/plain"}), "evil.txt");
    fd.append("doc_id", id);
    try {
      const r = await fetch(target + "/api/documents", {method: "POST", mode: "no-cors", body: fd});
      results.push(r.type);
    } catch (e) {
      results.push("error " + e);
    }
  }
  window.__results = results;
}
""" % (SEED_DOC, EVIL)


@pytest.fixture(scope="module")
def open_server(seed_index_dir, embedder, tmp_path_factory):
    """`citeqa serve --host 0.0.0.0` with no key, and uvicorn told to trust every proxy
    (FORWARDED_ALLOW_IPS=*): the set-up where X-Forwarded-For used to make anyone "local"."""
    work = tmp_path_factory.mktemp("open")
    shutil.copytree(seed_index_dir, work / "index")
    server = LiveServer(work / "index", work, api_key=None, model_name=embedder.model_name,
                        extra_args=["--host", "0.0.0.0"], extra_env={"FORWARDED_ALLOW_IPS": "*"})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def attacker_origin():
    """A second web server on another 127.0.0.1 port: another origin on this machine."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            target = self.path.split("?target=", 1)[-1]
            body = f"<!doctype html><title>cats</title><script>{ATTACK_JS}\nattack({target!r});</script>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def refused_writes(server) -> float:
    """How many POST /api/documents the server answered 403 (proves the attack reached it)."""
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith('http_requests_total{method="POST",route="/api/documents",status="403"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def assert_untouched(server) -> None:
    assert EVIL not in httpx.get(f"{server.url}/api/documents/{SEED_DOC}").json()["text"]
    assert httpx.get(f"{server.url}/api/documents/evil-page").status_code == 404


def test_a_page_of_another_origin_cannot_write(page, open_server, attacker_origin):
    before = refused_writes(open_server)
    page.goto(f"{attacker_origin}/cats?target={open_server.url}")
    page.wait_for_function("window.__results && window.__results.length === 2", timeout=30_000)
    assert page.evaluate("window.__results") == ["opaque", "opaque"]  # sent; the page cannot see the answer
    assert refused_writes(open_server) == before + 2
    assert_untouched(open_server)


# Chromium's own guard (Private Network Access) blocks a page of a public address from reaching
# loopback; Firefox and Safari have none, and neither did Chromium before 2024. Off, to test ours.
NO_PNA = "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights," \
         "LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults"


@pytest.fixture
def unguarded_page(browser):
    other = browser.browser_type.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, NO_PNA])
    try:
        yield other.new_page()
    finally:
        other.close()


def test_a_rebound_name_is_refused(unguarded_page, open_server):
    """DNS rebinding: the attacker's name now resolves to 127.0.0.1, so its page's requests are
    same-origin to the browser; only the Host header gives them away."""
    page = unguarded_page
    port = open_server.port
    script = (
        "(async () => { try { const fd = new FormData();"
        f" fd.append('file', new Blob(['{EVIL}'], {{type: 'text/plain'}}), 'evil.txt'); fd.append('doc_id', 'evil-page');"
        " const w = await fetch('/api/documents', {method: 'POST', body: fd});"
        " const r = await fetch('/api/documents');"
        " window.__results = [w.status, r.status, await r.text()];"
        " } catch (e) { window.__results = ['error', String(e), '']; } })();"
    )
    url = f"http://{REBIND_NAME}:{port}/cats"
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html",
                                                body=f"<!doctype html><script>{script}</script>"))
    page.goto(url)
    page.wait_for_function("window.__results", timeout=30_000)
    write, read, body = page.evaluate("window.__results")
    assert (write, read) == (400, 400) and "CITEQA_ALLOWED_HOSTS" in body and SEED_DOC not in body
    assert_untouched(open_server)


def test_the_chat_pages_own_writes_and_curl_still_work(page, open_server):
    page.goto(open_server.url + "/")
    status, doc_id = page.evaluate("""async () => {
        const fd = new FormData();
        fd.append("file", new Blob(["Ferry workers ended their strike on Tuesday."], {type: "text/plain"}), "own-page.txt");
        const r = await fetch("/api/documents", {method: "POST", body: fd});
        return [r.status, (await r.json()).doc_id];
    }""")
    assert (status, doc_id) == (201, "own-page")
    assert page.evaluate("async () => (await fetch('/api/documents/own-page', {method: 'DELETE'})).status") == 200

    files = {"file": ("curl-upload.txt", b"The ferry service resumes on Thursday.", "text/plain")}
    r = httpx.post(open_server.url + "/api/documents", files=files, timeout=60)  # what curl -F sends
    assert r.status_code == 201, r.text
    assert httpx.delete(open_server.url + "/api/documents/curl-upload").status_code == 200


def _network_address() -> str | None:
    """This machine's address on a non-loopback interface (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("198.51.100.1", 9))
        except OSError:
            return None
        addr = s.getsockname()[0]
    return None if addr.startswith("127.") else addr


def test_x_forwarded_for_does_not_make_a_network_client_local(open_server):
    addr = _network_address()
    if addr is None:
        pytest.skip("no non-loopback interface to connect from")
    url = f"http://{addr}:{open_server.port}"
    assert httpx.get(url + "/readyz").status_code == 200  # bound to every interface, reached by address
    article = {"doc_id": "forwarded", "text": "Forged local write."}
    for headers in ({}, {"X-Forwarded-For": "127.0.0.1"}, {"Forwarded": "for=127.0.0.1"}):
        r = httpx.post(url + "/api/documents", json=article, headers=headers)
        assert r.status_code == 403 and "CITEQA_API_KEY" in r.json()["detail"], (headers, r.text)
    assert httpx.get(open_server.url + "/api/documents/forwarded").status_code == 404

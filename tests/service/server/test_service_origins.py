"""Cross-site writes and DNS rebinding, at the HTTP level: Host, Origin, Sec-Fetch-Site, proxy
headers and the API key's edge cases (the real-browser side is in test_service_cross_site.py)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.server.app import create_app, key_warning
from service.server.middleware.origins import HostPolicy, cross_site_reason, split_host
from service.config import Settings

OWN = "http://127.0.0.1:8000"


def article(doc_id: str) -> dict:
    return {"doc_id": doc_id, "title": "Canal lock repaired",
            "text": "The canal lock reopened on Monday after a 3 million euro repair, the port said."}


@pytest.fixture
def local(writable_engine):
    """No API key, a loopback client, and Host 127.0.0.1:8000 as `citeqa serve` sees it."""
    settings = writable_engine.settings.model_copy(update={"allowed_hosts": []})
    with TestClient(create_app(settings, engine=writable_engine), base_url=OWN, client=("127.0.0.1", 50000)) as c:
        yield c


def stored(client, doc_id: str) -> bool:
    return client.get(f"/api/documents/{doc_id}").status_code == 200


# ---- Host ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "a b", "user@127.0.0.1", "127.0.0.1/x", ""])
def test_a_foreign_host_is_refused_on_every_route(local, host):
    for method, path in [("GET", "/"), ("GET", "/api/documents"), ("POST", "/api/ask")]:
        r = local.request(method, path, headers={"Host": host}, json={"question": "q?"} if method == "POST" else None)
        assert r.status_code == 400, (host, path, r.text)
        assert "CITEQA_ALLOWED_HOSTS" in r.json()["detail"]
    r = local.post("/api/documents", json=article("rebound"), headers={"Host": host})
    assert r.status_code == 400 and not stored(local, "rebound")


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST.", "[::1]:8000", "[::1]", "127.9.9.9"])
def test_this_servers_own_names_are_served(local, host):
    assert local.get("/readyz", headers={"Host": host}).status_code == 200


def test_allowed_hosts_setting(writable_engine):
    settings = writable_engine.settings.model_copy(update={"allowed_hosts": ["qa.example.org"], "host": "10.1.2.3"})
    with TestClient(create_app(settings, engine=writable_engine), base_url="http://qa.example.org") as c:
        assert c.get("/readyz").status_code == 200
        assert c.get("/readyz", headers={"Host": "10.1.2.3:8000"}).status_code == 200  # the configured host
        assert c.get("/readyz", headers={"Host": "10.1.2.4:8000"}).status_code == 400
        assert c.get("/readyz", headers={"Host": "www.example.org"}).status_code == 400
    assert Settings(allowed_hosts=" QA.example.org, other.test ,").allowed_hosts == ["qa.example.org", "other.test"]
    assert HostPolicy(Settings(allowed_hosts="QA.example.org:8443,[fd00::5]")).allows("qa.example.org")
    assert HostPolicy(Settings(allowed_hosts="[fd00::5]")).allows("[fd00::5]:8000")
    anything = HostPolicy(Settings(allowed_hosts="*"))
    assert anything.allows("whatever.example:1")


def test_a_wildcard_bind_answers_to_addresses_but_not_to_foreign_names():
    policy = HostPolicy(Settings(host="0.0.0.0"))
    assert policy.allows("192.0.2.2:8000") and policy.allows("[fd00::2]:8000") and policy.allows("localhost")
    assert not policy.allows("evil.example:8000")
    assert not HostPolicy(Settings(host="127.0.0.1")).allows("192.0.2.2:8000")


def test_split_host():
    assert split_host("Example.COM.:8000") == ("example.com", 8000)
    assert split_host("[::1]") == ("::1", None)
    assert split_host("a b") is None and split_host("") is None and split_host("h:99999") is None


# ---- Origin and Sec-Fetch-Site on writes ------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of 127.0.0.1 is the same site
    {"Origin": "http://127.0.0.1:9000"},  # another origin on this machine
    {"Origin": "http://localhost:8000"},  # another name: another origin
    {"Origin": "null"},  # sandboxed frames, file:// pages
    {"Origin": "not a url"},
    {"Origin": OWN, "Sec-Fetch-Site": "cross-site"},
], ids=lambda h: " ".join(f"{k}={v}" for k, v in h.items()))
def test_cross_site_writes_are_refused(local, headers):
    r = local.post("/api/documents", json=article("evil"), headers=headers)
    assert r.status_code == 403, r.text
    assert r.json()["detail"].startswith("cross-site write refused")
    files = {"file": ("evil.txt", b"Evil text replaced the article.", "text/plain")}
    r = local.post("/api/documents", files=files, data={"doc_id": "001_12c9ecdcf328fd1a"}, headers=headers)
    assert r.status_code == 403
    assert "Evil" not in local.get("/api/documents/001_12c9ecdcf328fd1a").json()["text"]
    assert local.delete("/api/documents/001_12c9ecdcf328fd1a", headers=headers).status_code == 403
    assert not stored(local, "evil") and stored(local, "001_12c9ecdcf328fd1a")
    # reads are not writes: a question with the same headers is answered
    assert local.post("/api/ask", json={"question": "What did the canal lock cost?"}, headers=headers).status_code == 200


@pytest.mark.parametrize("headers", [
    {},  # curl, the CLI, scripts
    {"Sec-Fetch-Site": "none"},  # typed by the user
    {"Sec-Fetch-Site": "same-origin", "Origin": OWN},  # the chat page itself
    {"Origin": OWN},
    {"Origin": "https://127.0.0.1:8000"},  # behind a TLS proxy: same host and port
], ids=lambda h: " ".join(f"{k}={v}" for k, v in h.items()) or "no headers")
def test_same_origin_and_plain_clients_may_write(local, headers):
    r = local.post("/api/documents", json=article("canal-lock"), headers=headers)
    assert r.status_code == 201, r.text
    assert local.delete("/api/documents/canal-lock", headers=headers).status_code == 200


def test_a_cross_site_write_is_refused_even_with_the_key(writable_engine):
    settings = writable_engine.settings.model_copy(update={"api_key": SecretStr("k3y")})
    with TestClient(create_app(settings, engine=writable_engine)) as c:
        auth = {"Authorization": "Bearer k3y"}
        r = c.post("/api/documents", json=article("evil"), headers={**auth, "Origin": "https://evil.example"})
        assert r.status_code == 403 and not stored(c, "evil")
        assert c.post("/api/documents", json=article("canal-lock"), headers=auth).status_code == 201


def test_cross_site_reason_ports():
    assert cross_site_reason("http://localhost", None, "localhost:80") is None
    assert cross_site_reason("https://qa.example.org", None, "qa.example.org") is None
    assert cross_site_reason("http://qa.example.org:8080", None, "qa.example.org") is not None
    assert cross_site_reason("http://127.0.0.1:8000", None, None) is not None


# ---- "local" never comes from proxy headers --------------------------------------------------------
@pytest.mark.parametrize("peer,headers", [
    ("203.0.113.7", {"X-Forwarded-For": "127.0.0.1"}),
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}),  # a local reverse proxy forwarding a network client
    ("127.0.0.1", {"Forwarded": "for=203.0.113.7"}),
    ("127.0.0.1", {"X-Real-IP": "203.0.113.7"}),
])
def test_proxy_headers_never_make_a_client_local(writable_engine, peer, headers):
    with TestClient(create_app(writable_engine.settings, engine=writable_engine), client=(peer, 50000)) as c:
        r = c.post("/api/documents", json=article("proxied"), headers=headers)
        assert r.status_code == 403 and "CITEQA_API_KEY" in r.json()["detail"]
        assert not stored(c, "proxied")


# ---- the API key -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_an_empty_key_is_no_key_and_is_warned_about(value, monkeypatch):
    monkeypatch.setenv("CITEQA_API_KEY", value)
    settings = Settings()
    assert settings.api_key is None
    assert "CITEQA_API_KEY" in key_warning(settings, "0.0.0.0")
    assert key_warning(settings, "127.0.0.1") is None and key_warning(settings, "[::1]") is None
    assert key_warning(Settings(api_key="s3cret"), "0.0.0.0") is None


def test_a_non_ascii_key_works(writable_engine, monkeypatch):
    monkeypatch.setenv("CITEQA_API_KEY", " clé-Schlüssel-키 \n")  # surrounding whitespace is dropped
    key = Settings().api_key
    assert key.get_secret_value() == "clé-Schlüssel-키"
    settings = writable_engine.settings.model_copy(update={"api_key": key})
    with TestClient(create_app(settings, engine=writable_engine)) as c:
        good = {"Authorization": "Bearer clé-Schlüssel-키".encode()}  # what curl sends: UTF-8 bytes
        assert c.post("/api/documents", json=article("canal-lock"), headers=good).status_code == 201
        bad = {"Authorization": "Bearer clé-Schlüssel-킈".encode()}
        assert c.post("/api/documents", json=article("other"), headers=bad).status_code == 403
        assert c.post("/api/documents", json=article("other"), headers={"Authorization": "Bearer cl"}).status_code == 403

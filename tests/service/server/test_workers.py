"""`citeqa serve --workers N`: several processes on one port (service/server/workers.py)."""
from __future__ import annotations

import os
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.server.workers import set_nodelay, settings_env
from svc_helpers import ANCHOR_QUESTION, LiveServer


class _Transport:
    def __init__(self, sock):
        self.sock = sock

    def get_extra_info(self, name):
        return self.sock if name == "socket" else None


def test_set_nodelay_on_a_real_tcp_connection():
    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        with client, conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            assert set_nodelay(_Transport(conn))
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert not set_nodelay(_Transport(None))


def test_settings_survive_the_trip_through_the_environment(monkeypatch, tmp_path):
    s = Settings(index_dir=tmp_path / "ix", workers=3, rerank=False, api_key="k3y", rerank_prior=0.25,
                 allowed_hosts=["qa.example.org", "other.test"])
    env = settings_env(s)
    assert "CITEQA_MODEL_PATH" not in env and env["CITEQA_RERANK"] == "false" and env["CITEQA_API_KEY"] == "k3y"
    for k in [k for k in os.environ if k.startswith("CITEQA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)  # no .env
    back = Settings()
    assert back.model_dump() == s.model_dump() | {"api_key": back.api_key}
    assert back.api_key.get_secret_value() == "k3y"


@pytest.mark.slow
def test_two_worker_processes_serve_one_port(seed_index_dir, embedder, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    server = LiveServer(index_dir, tmp_path, model_name=embedder.model_name, extra_args=["--workers", "2"])
    try:
        server.wait_ready()  # the first worker is serving; the second joins when it has loaded
        deadline = time.monotonic() + 120
        while Path(server.log).read_text().count("citeqa ready:") < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert Path(server.log).read_text().count("citeqa ready:") == 2
        with httpx.Client(base_url=server.url, timeout=60) as c, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: c.post("/api/ask", json={"question": ANCHOR_QUESTION}), range(16)))
        assert all(r.status_code == 200 for r in answers)
        assert {r.json()["short_answer"] for r in answers} == {"December 2023"}
    finally:
        server.stop()
    assert server.proc.returncode is not None

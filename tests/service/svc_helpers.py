"""Helpers shared by the service tests (a module of its own: conftest.py is not importable by name)."""
from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from eval.bench.common import citeqa_bin, free_port  # noqa: F401  (the tests import them from here)
from service.config import REPO_ROOT

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHROMIUM = Path("/usr/bin/chromium")
# rebind.test (a reserved TLD) resolves to this machine: a DNS rebinding, for test_service_cross_site.py
REBIND_NAME = "rebind.test"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 f"--host-resolver-rules=MAP {REBIND_NAME} 127.0.0.1"]
ANCHOR_QUESTION = "When did real-time missile-data sharing start?"


@contextmanager
def tmpfs(mnt: Path, size: str):
    """A real small disk (a tmpfs mounted at `mnt`, which must exist); skips where mounting is not
    allowed (it needs root)."""
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def keyed(settings):
    """The same settings with an API key configured (writes need `Authorization: Bearer`), and
    TestClient's `Host: testserver` allowed."""
    hosts = sorted({*settings.allowed_hosts, "testserver"})
    return settings.model_copy(update={"api_key": SecretStr(API_KEY), "allowed_hosts": hosts})


# ---- a live server -------------------------------------------------------------------------------
def server_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", **extra)
    # the server runs this checkout's code even when the venv's editable install points at another
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


class LiveServer:
    def __init__(self, index_dir: Path, workdir: Path, api_key: str | None = API_KEY, model_name: str | None = None,
                 extra_args: list[str] = (), extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        env = server_env(**({"CITEQA_API_KEY": api_key} if api_key else {}),
                         **({"CITEQA_MODEL_NAME": model_name} if model_name else {}), **(extra_env or {}))
        self._log_file = open(self.log, "wb")
        # cwd=workdir: Settings reads .env from the working directory; keep a developer's out of it
        self.proc = subprocess.Popen(
            [citeqa_bin(), "serve", "--index-dir", str(index_dir), "--host", "127.0.0.1", "--port", str(self.port),
             *extra_args],
            cwd=workdir, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"citeqa serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"citeqa serve not ready after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()

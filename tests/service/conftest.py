"""Fixtures for the service tests: in-process apps over the real seed index, a live `citeqa serve`
subprocess, and a headless Chromium for the browser tests."""
from __future__ import annotations

import os
import shutil

import pytest
from fastapi.testclient import TestClient

from service.server.app import create_app
from svc_helpers import CHROMIUM, CHROMIUM_ARGS, LiveServer, keyed


@pytest.fixture(scope="session")
def client(seed_engine, seed_settings):
    """Read-only client over the shared seed engine."""
    app = create_app(keyed(seed_settings), engine=seed_engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def writer(writable_engine):
    """A client over a private, writable copy of the seed index, with an API key configured."""
    app = create_app(keyed(writable_engine.settings), engine=writable_engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(seed_index_dir, embedder, tmp_path_factory):
    """`citeqa serve` on a free port over a private copy of the seed index, with an API key."""
    work = tmp_path_factory.mktemp("live")
    index_dir = work / "index"
    shutil.copytree(seed_index_dir, index_dir)
    # The shared seed index records the model name of the test `embedder` fixture (the model
    # folder's name), which differs from Settings.model_name; serve with the same name.
    server = LiveServer(index_dir, work, model_name=embedder.model_name)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# ---- a browser -----------------------------------------------------------------------------------
def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run on CI: {reason}")
    pytest.skip(f"browser test skipped: {reason} (install with `apt-get install -y chromium`; with CI=true this fails)")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()

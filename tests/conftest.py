"""Shared fixtures: the real model (loaded once) and a real index built once from seeds/."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.embedding.embedder import Embedder
from service.config import REPO_ROOT, Settings

SEEDS = REPO_ROOT / "seeds"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.from_config(Settings().embedder_config())


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder) -> Path:
    """An index built from seeds/ once per test session. Treat as read-only: copy it to write."""
    from index.stores.sqlite.index import HybridIndex
    from index.ingest import ingest

    d = tmp_path_factory.mktemp("seed-index") / "index"
    idx = HybridIndex(d, embedder, create=True, for_writing=True)
    ingest(idx, [SEEDS], progress=False)
    idx.close()
    return d


def make_settings(index_dir: Path, **kw) -> Settings:
    # Starlette's TestClient sends `Host: testserver`, which the service refuses unless allowed
    kw.setdefault("allowed_hosts", ["testserver"])
    # the first stage alone: the shipped second stage (110 MB, 1-2 s to load) in each of the suite's ~70
    # engines would cost minutes; tests/service/answerers/reader/test_second_stage.py, the SQuAD
    # regression floors and the `citeqa serve` tests run the shipped pair
    kw.setdefault("reader_second", False)
    return Settings(index_dir=index_dir, seeds_dir=SEEDS, api_key=None, **kw)


@pytest.fixture(scope="session")
def seed_settings(seed_index_dir) -> Settings:
    return make_settings(seed_index_dir)


@pytest.fixture(scope="session")
def seed_engine(seed_settings, embedder):
    """A loaded engine over the seed index, shared by read-only tests."""
    from service.engine import Engine

    engine = Engine.load(seed_settings, embedder=embedder)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def milvus_seed_engine(tmp_path_factory, embedder):
    """The seeds in a Milvus store (milvus-lite) and its engine, shared by the parity tests."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from index.ingest import ingest
    from index.stores.factory import open_index
    from service.engine import Engine

    settings = make_settings(tmp_path_factory.mktemp("seed-milvus") / "index", store="milvus")
    idx = open_index(settings.store_config(), embedder, create=True, for_writing=True)
    ingest(idx, [SEEDS], progress=False)
    engine = Engine(settings, embedder, idx)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def extractive_engine(seed_settings, embedder):
    """The same index answered by the heuristic fallback answerer (tests of that answerer)."""
    from service.engine import Engine

    engine = Engine.load(seed_settings.model_copy(update={"answerer": "extractive"}), embedder=embedder)
    yield engine
    engine.close()


@pytest.fixture
def index_copy(seed_index_dir, tmp_path) -> Path:
    """A private, writable copy of the seed index."""
    dst = tmp_path / "index"
    shutil.copytree(seed_index_dir, dst)
    return dst


@pytest.fixture
def writable_engine(index_copy, embedder):
    from service.engine import Engine

    engine = Engine.load(make_settings(index_copy), embedder=embedder)
    yield engine
    engine.close()

"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation, including the writes (on a private copy of the index, with the API key), gets
valid and invalid generated requests; no response may be a 5xx, use an undocumented status code or
content type, or break its documented schema.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from service.server.app import create_app
from svc_helpers import AUTH, keyed

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_engine(seed_index_dir, embedder, tmp_path_factory):
    """A writable copy of the seed index for the whole module (the writes are fuzzed too)."""
    import shutil

    from service.engine import Engine
    from service.config import REPO_ROOT, Settings

    d = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(seed_index_dir, d)
    engine = Engine.load(Settings(index_dir=d, seeds_dir=REPO_ROOT / "seeds", api_key=None), embedder=embedder)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_engine):
    app = create_app(keyed(fuzz_engine.settings), engine=fuzz_engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# Every operation of the schema, listed so that a new route cannot go unfuzzed (checked below).
# (schemathesis' own `from_fixture(...).parametrize()` needs a pytest private attribute that
# pytest 9 removed, so the cases are drawn with `as_strategy` and Hypothesis' `@given` instead.)
OPERATIONS = [
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("POST", "/api/ask"), ("POST", "/api/search"),
    ("GET", "/api/documents"), ("GET", "/api/documents/{doc_id}"),
    ("POST", "/api/documents"), ("DELETE", "/api/documents/{doc_id}"),
]


def test_every_operation_is_fuzzed(api_schema):
    ops = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert ops == set(OPERATIONS)


# valid requests for every operation; invalid ones for every operation that takes any input
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if m != "GET"]  # GET ones take no body, no auth


@pytest.mark.parametrize("method,path,mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_api_conforms_to_its_schema(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    fuzz()

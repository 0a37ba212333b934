"""Training fixtures: a tiny SQuAD-layout article for the reader's training data and train-reader itself."""
from __future__ import annotations

import copy

import pytest


# A tiny SQuAD-layout article for the reader's training data and train-reader itself
def _fix_offsets(article):
    for p in article["paragraphs"]:
        for q in p["qas"]:
            for a in q["answers"]:
                a["answer_start"] = p["context"].index(a["text"])
    return article


_NORMANDY = {"title": "Normandy", "paragraphs": [
    {"context": "The Normans settled in Normandy in 911. Rollo was their first ruler. They spoke Norman French and kept the customs of their Norse ancestors for a long time.",
     "qas": [{"id": "sqexp_1", "question": "When did the Normans settle in Normandy?",
              "answers": [{"text": "911", "answer_start": 36}]},
             {"id": "sqexp_2", "question": "Who was the first ruler of the Normans?",
              "answers": [{"text": "Rollo", "answer_start": 41}]}]},
    {"context": "William the Conqueror invaded England in 1066 with an army from Normandy and Brittany.",
     "qas": [{"id": "sqexp_3", "question": "When did William invade England?",
              "answers": [{"text": "1066", "answer_start": 41}]}]},
]}
_fix_offsets(_NORMANDY)


@pytest.fixture
def normandy_article() -> dict:
    return copy.deepcopy(_NORMANDY)

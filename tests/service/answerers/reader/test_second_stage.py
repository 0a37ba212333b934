"""The shipped second stage (service/answerers/reader/second): a 12-layer reader that re-reads the
passages of the questions the first stage is unsure of (its gate), loaded by default with the shipped
first stage."""
from __future__ import annotations

import json

import pytest

from service.answerers.reader.gate import Gate
from service.answerers.reader.model import SECOND_DIR
from tests.conftest import make_settings


def test_it_ships_in_files_a_git_host_takes_with_its_card_and_its_gate():
    sizes = {f.name: f.stat().st_size for f in SECOND_DIR.iterdir()}
    assert {"model.onnx", "MODEL_CARD.md", "calibration.json", "tokenizer.json"} <= set(sizes)
    assert max(sizes.values()) < 100e6 and sum(sizes.values()) > 100e6  # split: model.onnx.data beside
    cal = json.loads((SECOND_DIR / "calibration.json").read_text())
    two = cal["open_second"]
    assert Gate.from_dict(two["gate"]) is not None and 0 < two["gate"]["budget"] <= 0.5
    assert "margin1" in two["weights"] and "closed" in cal


@pytest.fixture(scope="module")
def pair_engine(seed_index_dir, embedder):
    from service.engine import Engine

    engine = Engine.load(make_settings(seed_index_dir, reader_second=True), embedder=embedder)
    yield engine
    engine.close()


def test_the_default_engine_reads_with_the_pair_and_cites_exactly(pair_engine):
    answerer = pair_engine.answerer
    assert answerer.second is not None and answerer.gate is not None
    r, answer = pair_engine.answer("When did real-time missile-data sharing start?")
    assert answer.debug["stage"] in (1, 2) and not r.abstained and "December 2023" in r.short_answer
    span = r.short_answer_span
    assert pair_engine.index.store.document_text(span.doc_id)[span.start:span.end] == r.short_answer
    off, answer = pair_engine.answer("What is the recipe for a chocolate cake?")
    assert off.abstained and answer.debug["stage"] == 1  # sure enough without the second read


def test_another_first_stage_does_not_get_the_shipped_gate(seed_index_dir, embedder):
    """The gate was fitted on the shipped first stage's scores: CITEQA_READER_PATH alone turns it off."""
    from service.answerers.registry import create
    from service.answerers.reader.model import SHIPPED_DIR

    other = create("reader", reader_path=SHIPPED_DIR)
    shipped = create("reader", reader_second=False)
    try:
        assert other.second is None and shipped.second is None
    finally:
        other.runner.close()
        shipped.runner.close()

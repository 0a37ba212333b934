"""The shipped reader for real: the ONNX model in service/answerers/reader/model, no stubs."""
from __future__ import annotations

import threading

import pytest

from service.answerers.reader.answerer import ReaderAnswerer, ReaderCalibration, span_features
from service.answerers.reader.model import SHIPPED_DIR, ReaderModel, ReaderUnavailable
from service.answerers.reader.runner import ReaderRunner

NORMANS = ("The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
           "a region in France. They were descended from Norse raiders and pirates from Denmark, Iceland "
           "and Norway who, under their leader Rollo, agreed to swear fealty to King Charles III of West "
           "Francia in 911.")


@pytest.fixture(scope="module")
def reader() -> ReaderModel:
    return ReaderModel(SHIPPED_DIR)


def test_the_model_ships_small_with_its_card_and_calibration():
    onnx = SHIPPED_DIR / "model.onnx"
    assert onnx.exists() and onnx.stat().st_size < 30e6
    assert (SHIPPED_DIR / "MODEL_CARD.md").exists()
    cal = ReaderModel(SHIPPED_DIR).calibration
    assert {"open", "closed"} <= set(cal)


def test_reads_a_known_answer_and_abstains_on_an_unrelated_question(reader):
    closed = ReaderCalibration.from_dict(reader.calibration["closed"])
    spans = reader.run("Who was the leader of the Norse raiders?", [NORMANS])
    assert NORMANS[spans[0].start:spans[0].end] == "Rollo"
    assert closed.probability(**span_features(spans[0])) >= closed.threshold
    spans = reader.run("When did the Normans swear fealty to the king?", [NORMANS])
    assert NORMANS[spans[0].start:spans[0].end] == "911"
    spans = reader.run("What is the boiling point of mercury?", [NORMANS])
    assert closed.probability(**span_features(spans[0])) < closed.threshold


def test_the_passage_with_the_answer_wins(reader):
    other = "Mercury is a chemical element. It is liquid at room temperature and boils at 356.7 degrees."
    spans = reader.run("Who was the leader of the Norse raiders?", [other, NORMANS])
    assert spans[0].passage == 1 and spans[0].margin > spans[1].margin


def test_concurrent_questions_get_the_answers_they_get_alone(reader):
    questions = ["Who was the leader of the Norse raiders?", "When did the Normans swear fealty to the king?",
                 "Where is Normandy?", "Which countries did the raiders come from?"] * 2
    alone = [reader.run(q, [NORMANS])[0] for q in questions]
    sizes = []
    real = reader.forward

    def counting(feats):
        sizes.append(len(feats.input_ids))
        return real(feats)

    reader.forward = counting
    runner = ReaderRunner(reader)
    try:
        out: dict[int, object] = {}
        threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, runner.read(questions[i], [NORMANS])[0]))
                   for i in range(len(questions))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        runner.close()
        del reader.forward
    for i, a in enumerate(alone):
        assert (out[i].start, out[i].end) == (a.start, a.end)
        assert out[i].margin == pytest.approx(a.margin, abs=1e-5)
    assert sizes == [1] * len(questions)  # one call per question: its answer never depends on another's


def test_a_very_long_question_is_cut_not_refused(reader):
    spans = reader.run("Who was the leader of the Norse raiders? " + "Please answer precisely. " * 120, [NORMANS])
    assert NORMANS[spans[0].start:spans[0].end] == "Rollo"


def test_missing_model_is_reported_not_crashed(tmp_path):
    with pytest.raises(ReaderUnavailable):
        ReaderModel(tmp_path)


def test_engine_answers_with_the_reader_and_an_exact_short_span(seed_engine):
    assert isinstance(seed_engine.answerer, ReaderAnswerer)
    r = seed_engine.ask("When did real-time missile-data sharing start?")
    assert not r.abstained and "December 2023" in r.short_answer
    span = r.short_answer_span
    text = seed_engine.index.store.document_text(span.doc_id)
    assert text[span.start:span.end] == r.short_answer
    cited = next(c for c in r.citations if c.n == span.n)
    assert cited.start <= span.start and span.end <= cited.end
    assert text[cited.start:cited.end] == cited.quote and f"[{cited.n}]" in r.answer
    assert 0.0 <= r.confidence <= 1.0


def test_engine_abstains_off_topic_and_still_lists_passages(seed_engine):
    r = seed_engine.ask("What is the boiling point of mercury?")
    assert r.abstained and r.short_answer is None and r.short_answer_span is None
    assert r.citations == [] and len(r.passages) == 5


def test_without_a_model_auto_falls_back_to_the_heuristic_answerer(seed_index_dir, embedder, tmp_path):
    from service.answerers.extractive.answerer import ExtractiveAnswerer
    from service.engine import Engine
    from tests.conftest import make_settings

    engine = Engine.load(make_settings(seed_index_dir, reader_path=tmp_path), embedder=embedder)
    try:
        assert isinstance(engine.answerer, ExtractiveAnswerer)
        assert not engine.ask("When did real-time missile-data sharing start?").abstained
    finally:
        engine.close()


def test_an_index_of_pooled_chunk_vectors_gets_its_own_open_fit(seed_engine):
    """The passage cosine is a calibration feature; pooled chunk vectors (CITEQA_CHUNK_VECTORS=pooled)
    have their own distribution of it, so such an index reads the fit made over one like it."""
    runner = seed_engine.answerer.runner
    cal = runner.model.calibration
    assert "open_pooled" in cal and cal["open_pooled"]["threshold"] != cal["open"]["threshold"]
    pooled = ReaderAnswerer(runner, chunk_vectors="pooled")
    separate = ReaderAnswerer(runner)
    assert pooled.calibration.threshold == cal["open_pooled"]["threshold"]
    assert separate.calibration.threshold == cal["open"]["threshold"]
    assert dict(pooled.calibration.weights)["dense"] == cal["open_pooled"]["weights"]["dense"]
    assert pooled.with_threshold(0.5).chunk_vectors == "pooled"
    assert seed_engine.answerer.chunk_vectors == "separate"  # the seed index's manifest


def test_late_sentence_vectors_get_their_own_near_sentence_bar(seed_engine):
    """The closest sentence shown with an abstention is measured by the index's sentence vectors; late
    ones sit lower against a question, so an index of them reads the bar fitted over one like it."""
    for runner, key in ((seed_engine.answerer.runner, "open"), (seed_engine.answerer.second, "open_second")):
        if runner is None:
            continue
        fitted = runner.model.calibration[key]
        assert fitted["near_cosine_late"] < fitted["near_cosine"]
    runner = seed_engine.answerer.runner
    late, separate = ReaderAnswerer(runner, sentence_vectors="late"), ReaderAnswerer(runner)
    assert late.near_cosine == runner.model.calibration["open"]["near_cosine_late"]
    assert separate.near_cosine == runner.model.calibration["open"]["near_cosine"]
    assert late.with_threshold(0.5).near_cosine == late.near_cosine
    # the engine reads the kind from the index's manifest
    assert seed_engine.answerer.sentence_vectors == seed_engine.index.store.manifest()["sentence_vectors"]


def test_a_second_stage_rereads_the_best_passages_and_decides_with_its_own_fit(seed_engine, tmp_path):
    """CITEQA_READER_SECOND_PATH: a second reader re-reads the first stage's best passage and the next
    ones in retrieval's order; the answer's span is its, mapped back to the right passage, and the
    decision is the two-stage fit in its folder (with the first stage's margin as a feature)."""
    import json
    import shutil

    second_dir = tmp_path / "second"
    shutil.copytree(SHIPPED_DIR, second_dir)
    cal = json.loads((second_dir / "calibration.json").read_text())
    cal["open_second"] = {**cal["open"], "weights": {**cal["open"]["weights"], "margin1": 0.0}, "threshold": 0.123}
    (second_dir / "calibration.json").write_text(json.dumps(cal))
    second = ReaderRunner(ReaderModel(second_dir), name="test-reader-2")
    read_counts = []
    real = second.read
    second.read = lambda q, passages: read_counts.append(len(passages)) or real(q, passages)
    first = seed_engine.answerer
    two = ReaderAnswerer(first.runner, second=second, reader_second_passages=2)
    assert two.calibration.threshold == 0.123 and dict(two.calibration.weights)["margin1"] == 0.0
    question = "When did real-time missile-data sharing start?"
    try:
        alone = seed_engine.ask(question)
        seed_engine.answerer = two
        r = seed_engine.ask(question)
    finally:
        seed_engine.answerer = first
        second.close()
    assert read_counts == [2]
    # the same weights in both stages: the same span, from the same passage, as the first stage alone
    assert not r.abstained and r.short_answer == alone.short_answer and "December 2023" in r.short_answer
    assert r.short_answer_span == alone.short_answer_span and r.passages[0].chunk_id == alone.passages[0].chunk_id
    text = seed_engine.index.store.document_text(r.short_answer_span.doc_id)
    assert text[r.short_answer_span.start:r.short_answer_span.end] == r.short_answer


def test_the_gate_sends_only_its_band_to_the_second_stage(seed_engine):
    """A gate in the two-stage fit (training/reader/gate.py): below its band the first stage abstains,
    above it answers with its own span, and only in the band does the second stage re-read."""
    first = seed_engine.answerer
    second = ReaderRunner(ReaderModel(SHIPPED_DIR), name="test-reader-2")
    base = second.model.calibration
    gate = {"weights": base["open"]["weights"], "b": base["open"]["b"]}
    reads = []
    real = second.read
    second.read = lambda q, passages: reads.append(q) or real(q, passages)
    question = "When did real-time missile-data sharing start?"

    def ask_with(low, high, reader_gate=True):
        cal = {**base, "open_second": {**base["open"], "weights": {**base["open"]["weights"], "margin1": 0.0},
                                       "gate": {**gate, "low": low, "high": high}}}
        second.model.calibration = cal  # as read from its folder's calibration.json
        seed_engine.answerer = ReaderAnswerer(first.runner, second=second, reader_gate=reader_gate)
        reads.clear()
        r, answer = seed_engine.answer(question)
        return r, answer, list(reads)

    try:
        alone = seed_engine.ask(question)
        r, answer, got = ask_with(0.0, 0.0)  # every p1 at or above the band: the first stage answers
        assert got == [] and answer.debug["stage"] == 1 and not r.abstained
        assert r.short_answer == alone.short_answer and r.confidence == round(answer.debug["p1"], 4)
        r, answer, got = ask_with(1.01, 1.01)  # every p1 below it: abstained without a second read
        assert got == [] and answer.debug["stage"] == 1 and r.abstained
        r, answer, got = ask_with(0.0, 1.01)  # in the band: re-read
        assert got == [question] and answer.debug["stage"] == 2 and "first_answer" not in answer.debug
        r, answer, got = ask_with(0.0, 0.0, reader_gate=False)  # CITEQA_READER_GATE=false: every question
        assert got == [question] and "December 2023" in answer.debug["first_answer"]
    finally:
        seed_engine.answerer = first
        second.close()


def test_an_abstain_threshold_set_by_hand_holds_for_both_stages(seed_engine):
    """CITEQA_ABSTAIN_THRESHOLD applies to every decision: a question the gate leaves to the first
    stage is still abstained on below it (and answered above it)."""
    first = seed_engine.answerer
    second = ReaderRunner(ReaderModel(SHIPPED_DIR), name="test-reader-2")
    base = second.model.calibration
    second.model.calibration = {**base, "open_second": {**base["open"], "gate": {
        "weights": base["open"]["weights"], "b": base["open"]["b"], "low": 0.0, "high": 0.0}}}
    question = "When did real-time missile-data sharing start?"
    try:
        for threshold, abstained in ((1.0, True), (0.0, False)):
            seed_engine.answerer = ReaderAnswerer(first.runner, threshold, second=second)
            r, answer = seed_engine.answer(question)
            assert answer.debug["stage"] == 1 and r.abstained is abstained
    finally:
        seed_engine.answerer = first
        second.close()


def test_the_tokenizer_gives_autotokenizers_windows(reader):
    """The reader loads its tokenizer.json without AutoTokenizer (which imports torch): the same
    word pieces, offsets and windows over a long passage."""
    from transformers import AutoTokenizer

    theirs = AutoTokenizer.from_pretrained(str(SHIPPED_DIR))
    questions, passages = ["Who was Rollo?", "When?"], [NORMANS * 8, "Short passage."]
    kw = dict(truncation="only_second", max_length=128, stride=32, return_overflowing_tokens=True,
              return_offsets_mapping=True)
    a, b = reader.tokenizer(questions, passages, **kw), theirs(questions, passages, **kw)
    assert len(b["input_ids"]) > 3  # the long passage was cut into windows
    assert all(a[k] == b[k] for k in b.keys())
    assert all(a.sequence_ids(k) == b.sequence_ids(k) for k in range(len(b["input_ids"])))

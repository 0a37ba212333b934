"""The model thread: questions batched together, bulk jobs (an upload's slices) only between them,
and a question never waits behind a whole document (hardening point 2)."""
from __future__ import annotations

import threading
import time

import pytest

from service.model_thread import ModelThread
from service.schemas import DocumentIn


def test_items_overtake_queued_jobs():
    order: list[str] = []
    gate = threading.Event()
    mt = ModelThread(lambda items: [order.append(f"q:{i}") or i for i in items], max_batch=8, name="t")
    try:
        first = mt.later(lambda: gate.wait(5) and order.append("job0"))
        jobs = [mt.later(lambda k=k: order.append(f"job{k}")) for k in (1, 2, 3)]
        time.sleep(0.05)  # job0 is running, jobs 1-3 wait
        questions = [mt.submit(n) for n in ("a", "b")]
        gate.set()
        assert [q.result(5) for q in questions] == ["a", "b"]
        for j in [first, *jobs]:
            j.result(5)
    finally:
        mt.close()
    # the questions ran together, right after the job that was running, before the queued jobs
    assert order == ["job0", "q:a", "q:b", "job1", "job2", "job3"]


def test_a_failing_job_reaches_its_caller_and_the_thread_goes_on():
    mt = ModelThread(lambda items: items, max_batch=4, name="t")
    try:
        bad = mt.later(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            bad.result(5)
        assert mt.submit("still here").result(5) == "still here"
    finally:
        mt.close()


def test_close_finishes_what_was_queued_then_refuses():
    mt = ModelThread(lambda items: items, max_batch=4, name="t")
    futures = [mt.later(lambda k=k: k) for k in range(5)]
    mt.close()
    assert [f.result(1) for f in futures] == list(range(5))
    with pytest.raises(RuntimeError):
        mt.submit("late")


def test_questions_are_answered_while_a_large_upload_is_still_embedding(writable_engine):
    """A 120 KB article takes several seconds to embed on two cores (7-8 s on AVX2); questions asked
    meanwhile are answered in between its slices (they used to queue behind the whole document)."""
    from eval.bench.upload import make_document

    text = make_document(120_000)
    done = threading.Event()
    errors: list[BaseException] = []

    def upload():
        try:
            writable_engine.add_document(DocumentIn(text=text, doc_id="big-upload", title="Big upload"))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            done.set()

    th = threading.Thread(target=upload)
    th.start()
    try:
        time.sleep(1.0)  # chunked and embedding
        answered = []
        for _ in range(3):
            resp = writable_engine.ask("When did real-time missile-data sharing start?")
            answered.append((done.is_set(), "December 2023" in resp.answer))
        assert answered == [(False, True)] * 3, "questions waited for the upload"
    finally:
        th.join(timeout=300)
    assert not errors and writable_engine.document("big-upload").chunks > 40

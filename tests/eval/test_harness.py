"""The harness itself: the simulated threshold equals a real run, --url gives the same numbers as
in-process, the report files are written, and CLI errors exit 2."""
from __future__ import annotations

import argparse
import json

import pytest

from eval import harness, report, scoring
from eval.harness import load_questions, run_eval
from eval.scoring import at_threshold, score_response


def _by_id(result):
    return {r["id"]: r for r in result["questions"]}


def test_result_shape(eval_result, questions):
    assert len(eval_result["questions"]) == len(questions)
    for key in harness.HEADLINE_KEYS:
        assert key in eval_result["headline"]
    assert set(eval_result["per_kind"]) == {q["kind"] for q in questions}
    assert eval_result["sweep"] and eval_result["recommended_threshold"] is not None
    row = eval_result["questions"][0]
    for key in ("question", "kind", "answer", "short_answer", "abstained", "confidence", "answer_correct",
                "short_correct", "correct", "hit@1", "hit@5", "evidence_hit@5"):
        assert key in row
    json.dumps(eval_result)  # plain data all the way down


def test_simulated_threshold_equals_a_real_run(eval_result, seed_engine, questions):
    """eval_result comes from one pass at threshold 0, simulated at the engine's threshold; the
    seed engine really runs at that threshold."""
    assert eval_result["meta"]["threshold"] == harness.configured_threshold(seed_engine)[0]
    assert eval_result["meta"]["threshold"] == seed_engine.answerer.threshold
    rows = _by_id(eval_result)
    t = eval_result["meta"]["threshold"]
    # the questions whose confidence lies nearest the threshold, where a wrong simulation would show,
    # and one of every kind (all 98 would double the run time)
    near = sorted(questions, key=lambda q: abs(rows[q["id"]]["confidence"] - t))[:20]
    some = {q["kind"]: q for q in reversed(questions)}.values()
    chosen = {q["id"]: q for q in [*near, *some]}.values()
    assert any(rows[q["id"]]["abstained"] for q in chosen) and not all(rows[q["id"]]["abstained"] for q in chosen)
    mismatches = []
    for q in chosen:
        real = seed_engine.ask(q["question"]).model_dump(mode="json")
        sim = rows[q["id"]]
        if (real["abstained"], real["answer"], real["short_answer"]) != (sim["abstained"], sim["answer"], sim["short_answer"]):
            mismatches.append((q["id"], real["abstained"], sim["abstained"], real["confidence"]))
    assert not mismatches


def test_threshold_override_and_sweep_agree(eval_result):
    """A headline at threshold t is the sweep's point at t."""
    for p in eval_result["sweep"]:
        rows = [at_threshold(r, p["threshold"]) for r in eval_result["questions"]]
        h = scoring.aggregate(rows)
        assert h["accuracy"] == p["accuracy"]
        assert h["unanswerable_abstained"] == p["unanswerable_abstained"]
        assert h["answerable_wrongly_abstained"] == p["answerable_wrongly_abstained"]


def test_url_mode_gives_the_same_numbers(seed_engine, seed_settings, eval_result, questions):
    from fastapi.testclient import TestClient

    from service.server.app import create_app

    subset = [q for q in questions if q["id"] in {"q001", "q010", "q020", "q045", "q049", "q069", "q081", "q093"}]
    app = create_app(seed_settings, engine=seed_engine)
    with TestClient(app) as client:
        res = run_eval("http://testserver", subset, client=client, progress=False)
    assert res["meta"]["source"] == "http" and res["sweep"] is None and res["modes"] is None
    local = _by_id(eval_result)
    keys = ("abstained", "answer", "short_answer", "answer_correct", "short_correct", "correct", "hit@1", "hit@5",
            "rr", "evidence_hit@5", "citations_supporting", "citations_total")
    for r in res["questions"]:
        assert {k: r[k] for k in keys} == {k: local[r["id"]][k] for k in keys}, r["id"]


def test_score_response_on_a_hand_made_response():
    q = {"id": "x", "question": "Where?", "answerable": True, "answers": ["Washington"], "doc_ids": ["a"],
         "evidence": "They met in Washington.", "kind": "where"}
    resp = {"answer": "They met in Washington. [1]", "short_answer": "Washington", "abstained": False,
            "confidence": 0.8,
            "citations": [{"doc_id": "a", "quote": "They met in Washington."}],
            "passages": [{"doc_id": "b", "text": "Other."}, {"doc_id": "a", "text": "Intro. They met in\nWashington."}],
            "timings_ms": {"retrieve": 1.0, "answer": 1.0, "total": 2.0}}
    row = score_response(q, resp, 3.0)
    assert row["gold_rank"] == 2 and not row["hit@1"] and row["hit@5"] and row["rr"] == 0.5
    assert row["evidence_hit@5"] and row["raw_correct"] and row["raw_short_correct"]
    assert row["raw_citations_supporting"] == 1
    kept, dropped = at_threshold(row, 0.5), at_threshold(row, 0.9)
    assert not kept["abstained"] and kept["answer_correct"] and kept["citations_total"] == 1
    assert dropped["abstained"] and not dropped["answer_correct"] and dropped["citations_total"] == 0
    assert dropped["answer"] == scoring.ABSTAIN_TEXT


def test_report_files(eval_result, tmp_path):
    paths = report.write_all(eval_result, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "report.png"]
    assert json.loads(paths[0].read_text())["headline"] == eval_result["headline"]
    md = paths[1].read_text()
    for section in ("## Headline", "## Per kind", "## Retrieval modes", "## Abstention threshold sweep", "## Failures"):
        assert section in md
    assert "← recommended" in md
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy" in report.terminal_summary(eval_result)


def _args(**kw):
    parser = argparse.ArgumentParser()
    harness.add_arguments(parser)
    argv = []
    for k, v in kw.items():
        flag = f"--{k.replace('_', '-')}"
        argv += [flag] if v is True else [flag, str(v)]
    return parser.parse_args(argv)


def test_cli_parser_wires_the_harness():
    from service.cli import build_parser

    args = build_parser().parse_args(["eval", "--top-k", "3", "--modes", "bm25", "--threshold", "0.4"])
    assert (args.top_k, args.modes, args.threshold, args.url) == (3, "bm25", 0.4, None)


def test_unreachable_server_exits_2(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = harness.main(_args(url=f"http://127.0.0.1:{port}", out=tmp_path, no_progress=True))
    assert code == 2
    assert "cannot reach the server" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert harness.main(_args(questions=tmp_path / "missing.jsonl", out=tmp_path)) == 2
    assert "cannot read the question file" in capsys.readouterr().err
    assert harness.main(_args(modes="hybrid,fancy", out=tmp_path)) == 2
    assert "unknown retrieval mode" in capsys.readouterr().err


def test_load_questions_rejects_broken_lines(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text('{"id": "a", "question": "Q?", "answerable": false}\n{not json}\n')
    with pytest.raises(harness.EvalError, match=":2: not JSON"):
        load_questions(p)

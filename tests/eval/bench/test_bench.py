"""The benchmark code works (tiny versions of every part); no timing is asserted here."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from eval.bench import growth as bench_growth
from eval.bench import ingest as bench_ingest
from eval.bench import load as bench_load
from eval.bench import query as bench_query
from eval.bench import corpus_gen
from eval.bench.common import load_questions
from index.text.loading import load_file
from index.text.sentences import split_sentences
from service.config import Settings


# ---- corpus generator ------------------------------------------------------------------------
def test_corpus_generator_is_deterministic(tmp_path):
    a = corpus_gen.generate(tmp_path / "a", 6, seed=5)
    b = corpus_gen.generate(tmp_path / "b", 6, seed=5)
    c = corpus_gen.generate(tmp_path / "c", 6, seed=6)
    prefix = corpus_gen.generate(tmp_path / "p", 3, seed=5)
    assert corpus_gen.digest(a) == corpus_gen.digest(b)
    assert corpus_gen.digest(a) != corpus_gen.digest(c)
    assert [p.read_bytes() for p in prefix] == [p.read_bytes() for p in a[:3]]  # article i depends on i only
    assert len({p.read_text() for p in a}) == 6  # all different

    changed = corpus_gen.modify(tmp_path / "a", 6, 0.34, seed=5)
    again = corpus_gen.modify(tmp_path / "b", 6, 0.34, seed=5)
    assert [p.name for p in changed] == [p.name for p in again] and len(changed) == 2
    assert corpus_gen.digest(a) == corpus_gen.digest(b) != corpus_gen.digest(c)
    assert sum(x.read_bytes() != y.read_bytes() for x, y in zip(a, prefix)) == sum(
        p.name in {c.name for c in changed} for p in prefix)


def test_generated_articles_read_like_articles(tmp_path):
    for path in corpus_gen.generate(tmp_path, 4, seed=1):
        doc = load_file(path)
        assert doc.title and doc.author and doc.date  # headline, byline and date line were recognized
        assert len(split_sentences(doc.text)) >= 10
        assert "Lloyd Austin" not in doc.text  # people are varied


# ---- growth ----------------------------------------------------------------------------------
def test_growth_tiny(tmp_path):
    specs = [{"label": "Flat", "factory": "Flat"},
             {"label": "HNSW16,Flat", "factory": "HNSW16,Flat", "efc": 20},
             {"label": "IVF32,SQ8", "factory": "IVF32,SQ8", "family": "IVF,SQ8"}]
    res = bench_growth.run(sizes=(2000,), nq=40, factories=specs, log=lambda m: None)
    (size,) = res["sizes"]
    assert size["n"] == 2000 and size["queries"] == 40
    by = {i["label"]: i for i in size["indexes"]}
    assert by["Flat"]["recall_at_10"] == 1.0
    for i in by.values():
        assert 0.0 <= i["recall_at_10"] <= 1.0 and i["p50_ms"] is not None and i["serialized_mib"] > 0
    assert by["HNSW16,Flat"]["efConstruction"] == 20 and not by["HNSW16,Flat"]["supports_remove"]
    assert by["IVF32,SQ8"]["sweep"]["knob"] == "nprobe" and by["HNSW16,Flat"]["sweep"]["knob"] == "efSearch"
    assert "flat_below" in res["recommendation"]
    assert "GROWTH" in bench_growth.report(res)
    png = bench_growth.chart(res, tmp_path / "growth.png")
    assert png and Path(png).stat().st_size > 0


def test_synthetic_vectors_are_unit_and_clustered():
    v = bench_growth.synthetic(3000, seed=3)
    assert v.shape == (3000, 384)
    assert abs(float((v * v).sum(axis=1).mean()) - 1.0) < 1e-4
    assert (bench_growth.synthetic(3000, seed=3) == v).all()
    import numpy as np

    ids = np.arange(1, 3001)
    q = bench_growth.perturbed_queries(v, 20)
    stats = bench_growth._data_stats(v, q, bench_growth.ground_truth(v, q, ids), ids)
    assert stats["cos_query_nn1"] > stats["cos_query_nn10"] > stats["cos_random_pairs"]


# ---- query -----------------------------------------------------------------------------------
def test_query_part_over_five_questions(seed_engine):
    questions = load_questions(limit=5)
    res = bench_query.run(seed_engine, questions, rounds=1, warmup=0)
    assert res["questions"] == 5 and res["e2e_ask"]["n"] == 5 and res["bare_embedding"]["n"] == 5
    for stage in bench_query.STAGES:
        assert res["stages"][stage]["n"] == 5
    assert res["instrumented_vs_plain_passage_mismatches"] == 0  # wrapping changes nothing
    assert res["ratio_p50"] is not None
    assert "ratio end-to-end / bare embedding" in bench_query.report(res)


# ---- ingest ----------------------------------------------------------------------------------
def test_ingest_part_tiny(embedder, tmp_path):
    res = bench_ingest.run(embedder, Settings(), n_docs=4, change_fraction=0.25, work_dir=tmp_path,
                           microbench=False)
    assert res["full"]["documents_added"] == 4 and res["full"]["chunks_embedded"] > 0
    assert res["rerun_unchanged"]["documents_unchanged"] == 4 and res["rerun_unchanged"]["chunks_embedded"] == 0
    assert res["incremental"]["documents_updated"] == 1 and res["incremental"]["changed_documents"] == 1
    split = res["full"]["split_s"]
    assert split["embedding"] > 0 and set(split) == {"embedding", "sqlite_write", "dense_update",
                                                      "read_clean_split_chunk"}
    assert "INGEST" in bench_ingest.report(res)


# ---- load (against a stand-in server: the real one is benchmarked by `citeqa bench --part load`)
STAND_IN = textwrap.dedent("""
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def _send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def do_GET(self):
            self._send(200 if self.path == "/readyz" else 404, {"ready": True})
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if "fail" in body["question"]:
                self._send(500, {"detail": "boom"})
            else:
                self._send(200, {"answer": "x", "question": body["question"]})

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def test_load_part_against_a_stand_in(tmp_path):
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    index = tmp_path / "index"
    index.mkdir()
    (index / "placeholder").write_text("x")
    res = bench_load.run(index, ["q one", "q two"], levels=(1, 2), duration=0.5, out_dir=tmp_path,
                         warmup_requests=2, ready_timeout=30, cmd=[sys.executable, str(script), "{port}"])
    assert [lv["clients"] for lv in res["levels"]] == [1, 2]
    assert all(lv["requests_ok"] > 0 and lv["errors"] == 0 for lv in res["levels"])
    assert res["repeat_of_top_level"]["clients"] == 2
    assert res["targets"]["zero_errors"] is True
    assert "SERVICE UNDER LOAD" in bench_load.report(res)

    # errors are counted, not raised
    base_dir = tmp_path / "again"
    res = bench_load.run(index, ["please fail"], levels=(1,), duration=0.3, out_dir=base_dir, warmup_requests=1,
                         ready_timeout=30, cmd=[sys.executable, str(script), "{port}"], repeat_top=False)
    assert res["levels"][0]["errors"] > 0 and res["levels"][0]["error_kinds"].get("HTTP 500")
    assert res["targets"]["zero_errors"] is False


def test_server_that_dies_is_reported(tmp_path):
    with pytest.raises(bench_load.ServerError, match="exited"):
        with bench_load.Server([sys.executable, "-c", "import sys; sys.exit(3)"], "http://127.0.0.1:9",
                               tmp_path / "log", ready_timeout=20):
            pass


# ---- the command -----------------------------------------------------------------------------
def test_citeqa_bench_growth_writes_json_and_chart(tmp_path, capsys):
    from service.cli import main

    out = tmp_path / "out"
    rc = main(["bench", "--part", "growth", "--sizes", "2000", "--out", str(out), "--growth-budget", "60"])
    assert rc == 0
    data = json.loads((out / "bench.json").read_text())
    assert data["machine"]["nproc"] >= 1 and "cpu_model" in data["machine"]
    assert data["parts"]["growth"]["sizes"][0]["n"] == 2000
    assert (out / "growth.png").exists()
    text = capsys.readouterr().out
    assert "GROWTH" in text and "TARGETS" in text


# ---- upload ----------------------------------------------------------------------------------
def test_upload_document_maker_sizes_and_strips(tmp_path):
    from eval.bench import upload as bench_upload

    text = bench_upload.make_document(30_000)
    assert 29_000 <= len(text.encode()) <= 30_000 and "." in text
    bare = bench_upload.make_document(30_000, "nopunct")
    assert "." not in bare and "," not in bare and len(bare) > 25_000


def test_upload_part_times_the_upload_idle_and_under_asks_and_leaves_the_index_as_it_was(writable_engine):
    from eval.bench import upload as bench_upload

    before = {d.doc_id for d in writable_engine.index.store.documents()}
    res = bench_upload.run(writable_engine, ["Who hosted the summit?", "When did missile data sharing start?"],
                           n_bytes=6_000, idle_asks=3)
    assert not res.get("error") and res["chunks"] > 0
    assert res["upload_idle_s"] > 0 and res["upload_s"] > 0 and res["during"]["asks"] >= 5
    assert {d.doc_id for d in writable_engine.index.store.documents()} == before
    rows = bench_upload.targets(res)
    assert len(rows) == 3 and all(isinstance(met, bool) for *_, met in rows)
    text = bench_upload.report(res)
    assert f"uploaded in {res['upload_s']} s under a continuous asker ({res['upload_idle_s']} s with none)" in text


def test_upload_targets_follow_the_issue():
    from eval.bench.upload import targets

    res = {"bytes": 550_000, "upload_s": 59.0, "upload_idle_s": 30.0, "target_ratio": 3.0,
           "idle": {"p95_ms": 200.0}, "during": {"p95_ms": 700.0}}
    assert [met for *_, met in targets(res)] == [True, True, True]  # 700 <= 3 x 200 + 100
    slow = {**res, "upload_s": 95.0, "during": {"p95_ms": 701.0}}
    assert [met for *_, met in targets(slow)] == [False, False, False]  # 95 > 60 and > 3 x 30
    assert targets({**res, "error": "disk full"}) == []
    assert len(targets({**res, "upload_idle_s": None})) == 2


def test_ingest_part_on_real_articles_reports_every_stage(embedder, tmp_path):
    import gzip
    import json

    paras = [{"context": f"Paragraph {i} of the article says the river floods in spring. It was dammed in 19{i}0."}
             for i in range(6)]
    src = tmp_path / "squad.json.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        json.dump({"data": [{"title": "Long_river", "paragraphs": paras},
                            {"title": "Short", "paragraphs": paras[:1]}]}, fh)
    res = bench_ingest.run_real(embedder, Settings(), articles=1, work_dir=tmp_path / "w", source=src)
    assert res["articles"] == ["Long_river"]  # the longest first
    assert res["full"]["documents_added"] == 1 and res["full"]["chunks_embedded"] >= 1
    st = res["stages"]
    assert set(st["seconds"]) == {"read_clean", "split_sentences", "chunk", "mentions", "embed_chunk_pass",
                                  "embed_sentence_pass"}
    assert st["sentences"] == 13 and st["word_pieces"]["sentence"] > 13  # 12 in the paragraphs, and the title line
    assert "each stage alone" in bench_ingest.report_real(res)

"""Untrusted PDF/DOCX parsing in child processes with a time and a memory limit (index/sandbox.py)."""
from __future__ import annotations

import resource
import time

import pytest

from index.text import formats, sandbox
from index.text.loading import BadInput, extract
from tests.hostile_files import (PDF_PROBES, bodiless_docx, docx_bomb, docx_with, good_docx, good_pdf,
                                 inflating_pdf, slow_pdf, W)


@pytest.fixture
def pool():
    p = sandbox.ParsePool(timeout_s=1.5, memory_mb=384, workers=1)
    yield p
    p.close()


@pytest.mark.parametrize("name", sorted(PDF_PROBES))
def test_the_issues_looping_pdfs_end_in_a_clear_error_at_once(name):
    data = PDF_PROBES[name]
    assert len(data) < 700
    t0 = time.monotonic()
    with pytest.raises(BadInput) as err:
        extract(data, "pdf")
    assert time.monotonic() - t0 < 10
    assert "PDF" in str(err.value) or "text layer" in str(err.value)
    assert extract(good_pdf(), "pdf") == "Hello world."  # the sandbox still serves


def test_a_pdf_that_parses_too_long_is_killed_at_the_time_limit_and_the_pool_recovers(pool):
    t0 = time.monotonic()
    with pytest.raises(sandbox.ParseLimit) as err:
        pool.parse(slow_pdf(), "pdf")
    took = time.monotonic() - t0
    assert err.value.status == 422 and "1.5 s" in str(err.value) and "CITEQA_PARSE_TIMEOUT_S" in str(err.value)
    assert 1.4 < took < 4.0
    assert pool.parse(good_pdf(), "pdf") == "Hello world."  # a fresh child took the killed one's place


def test_a_pdf_decompression_bomb_hits_the_memory_limit_not_the_server(pool):
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = inflating_pdf(600)  # 600 MB of content stream, ~0.6 MB of file
    t0 = time.monotonic()
    with pytest.raises(BadInput) as err:
        pool.parse(data, "pdf")
    assert time.monotonic() - t0 < 10
    assert getattr(err.value, "status", None) in (413, 422), err.value  # memory (or, slower, time)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) < 200_000  # KB: this process stayed small
    assert pool.parse(good_pdf(), "pdf") == "Hello world."


def test_a_docx_zip_bomb_is_refused_from_its_zip_directory_fast_and_small():
    data = docx_bomb(100)
    assert len(data) < 1_000_000  # under the API's body limit
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(sandbox.ParseLimit) as err:
        extract(data, "docx")
    assert time.monotonic() - t0 < 3
    assert err.value.status == 413 and "word/document.xml" in str(err.value) and "limit" in str(err.value)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) < 100_000


def test_a_docx_whose_zip_directory_understates_the_size_fails_its_check_not_the_memory():
    # the directory says 1,000 bytes; zipfile never inflates past that and the CRC then fails
    data = docx_with(iter([b"<w:document>"] + [b"<w:p/>" * 100_000] * 40 + [b"</w:document>"]), declared_size=1000)
    t0 = time.monotonic()
    with pytest.raises(BadInput) as err:
        extract(data, "docx")
    assert time.monotonic() - t0 < 5 and "DOCX" in str(err.value)


def test_zip_directory_limits_are_checked_before_anything_is_inflated(monkeypatch):
    big = docx_with(b"<w:document " + W.encode() + b"><w:body>" + b"<w:p/>" * 150_000 + b"</w:body></w:document>")
    formats.check_zip(big)  # 0.9 MB inflated, ratio ~900x but under RATIO_FROM: fine as it is
    monkeypatch.setattr(formats, "MAX_PART_BYTES", 500_000)
    with pytest.raises(formats.ZipLimit, match=r"'word/document.xml' inflates to 0.9 MB \(the limit is 0.5 MB"):
        formats.check_zip(big)
    monkeypatch.setattr(formats, "MAX_PART_BYTES", 32_000_000)
    monkeypatch.setattr(formats, "RATIO_FROM", 100_000)
    with pytest.raises(formats.ZipLimit, match="zip bomb"):
        formats.check_zip(big)
    monkeypatch.setattr(formats, "MAX_TOTAL_BYTES", 1_000_000)
    monkeypatch.setattr(formats, "RATIO_FROM", 10_000_000)
    with pytest.raises(formats.ZipLimit, match="the DOCX file inflates to"):
        formats.check_zip(big)
    formats.check_zip(good_docx())  # a normal one passes


def test_a_docx_without_a_body_is_a_clear_error():
    with pytest.raises(BadInput, match="no body"):
        extract(bodiless_docx(), "docx")
    with pytest.raises(formats.NoText, match="no body"):
        formats.docx_text(bodiless_docx())


def test_normal_files_parse_the_same_and_the_warm_sandbox_costs_little():
    pdf, docx = good_pdf(), good_docx("First paragraph.", "Second one.")
    assert extract(pdf, "pdf") == formats.pdf_text(pdf)
    assert extract(docx, "docx") == formats.docx_text(docx) == "First paragraph.\nSecond one."

    def per_file(fn, n=10):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n

    inside = per_file(lambda: formats.pdf_text(pdf)) + per_file(lambda: formats.docx_text(docx))
    sandboxed = per_file(lambda: extract(pdf, "pdf")) + per_file(lambda: extract(docx, "docx"))
    assert sandboxed < inside + 0.05, (sandboxed, inside)  # a warm child: the pipe, not a new interpreter


def test_citeqa_ingest_reports_each_hostile_file_and_ingests_the_rest(tmp_path, capsys, monkeypatch):
    import shutil

    from service import cli
    from tests.conftest import SEEDS

    monkeypatch.setenv("CITEQA_PARSE_TIMEOUT_S", "2")
    sandbox.reset()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    shutil.copy(seed, corpus / seed.name)
    (corpus / "loop.pdf").write_bytes(PDF_PROBES["page refers to itself"])
    (corpus / "slow.pdf").write_bytes(slow_pdf())
    (corpus / "bomb.docx").write_bytes(docx_bomb(100))
    (corpus / "nobody.docx").write_bytes(bodiless_docx())
    (corpus / "fine.docx").write_bytes(good_docx("Seoul and Tokyo agreed to share missile data from December."))
    t0 = time.monotonic()
    try:
        code = cli.main(["ingest", str(corpus), "--index-dir", str(tmp_path / "i")])
    finally:
        sandbox.reset()
    out = capsys.readouterr().out
    assert code == cli.EXIT_SKIPPED and time.monotonic() - t0 < 60
    assert "Traceback" not in out
    for name, needle in (("loop.pdf", "refers to itself"), ("slow.pdf", "longer than the limit of 2 s"),
                         ("bomb.docx", "word/document.xml"), ("nobody.docx", "no body")):
        assert any(name in line and needle in line for line in out.splitlines()), (name, out)
    assert "2 added" in out  # the seed and fine.docx

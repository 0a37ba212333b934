"""A real `citeqa ingest` process is SIGKILLed inside each phase of an ingest over a larger
corpus; the index it leaves must load and be the previous one, complete (or, after the commit,
the new one, complete)."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.stores.sqlite.index import DB_NAME, HybridIndex
from index.text.sentences import split_sentences
from index.text.cleaning import clean_text
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow
CITEQA = Path(sys.executable).with_name("citeqa")


def generate_corpus(folder: Path, n_docs: int, seed: int = 7) -> None:
    """Articles recombined from the seeds' sentences, with varied numbers: real text, new files."""
    sentences = []
    for p in sorted(SEEDS.glob("*.txt")):
        text = clean_text(p.read_text(encoding="utf-8")).text
        sentences += [text[s.start : s.end] for s in split_sentences(text) if len(text[s.start : s.end].split()) > 6]
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(n_docs):
        body = " ".join(rng.sample(sentences, 12)).replace("three", rng.choice(["two", "four", "five", "three"]))
        (folder / f"gen_{i:04d}.txt").write_text(f"Generated article number {i} on allied security\n\n{body}\n",
                                                 encoding="utf-8")


def run_and_kill_at(marker: str, corpus: Path, index_dir: Path, delay: float = 0.0) -> bool:
    """Start an ingest, SIGKILL it `delay` s after it logs `marker`; True if it was killed mid-run."""
    proc = subprocess.Popen(
        [str(CITEQA), "-v", "ingest", str(corpus), "--index-dir", str(index_dir)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    deadline = time.monotonic() + 240
    killed = False
    for line in proc.stderr:
        if marker in line:
            if delay:
                time.sleep(delay)
            killed = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            break
        if time.monotonic() > deadline:
            break
    proc.kill()
    proc.wait(timeout=30)
    return killed


def assert_complete(index_dir: Path, embedder, n_docs: int) -> None:
    con = sqlite3.connect(index_dir / DB_NAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    idx = HybridIndex(index_dir, embedder)  # loads; rebuilds the dense cache if it was left stale
    counts = idx.store.counts()
    assert counts["documents"] == n_docs
    assert idx.dense.ntotal == counts["chunks"] > 0
    assert idx.store.manifest()["counts"] == counts
    # every document has its chunks, sentences and BM25 rows
    rows = idx.store.conn.execute(
        "SELECT d.doc_id, d.n_chunks, (SELECT count(*) FROM chunks c WHERE c.doc_id=d.doc_id) FROM documents d"
    ).fetchall()
    assert all(n == m > 0 for _, n, m in rows)
    assert idx.store.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == counts["chunks"]
    q = embedder.encode(["real-time missile warning data"])[0]
    assert idx.search_dense(q, 3) and idx.search_bm25("missile warning data", 3)
    idx.close()


def test_sigkill_at_any_phase_leaves_a_loadable_complete_index(tmp_path, index_copy, embedder):
    big, small = tmp_path / "big", tmp_path / "small"
    generate_corpus(big, 120)  # enough to still be embedding 1 s in (int8, one pass: ~120 chunks/s)
    # the later phases are reached only after every file is embedded: a small corpus gets there sooner
    generate_corpus(small, 20, seed=8)
    before = 5  # the seed index

    # killed while embedding, and again right as the write transaction starts
    assert run_and_kill_at("embedding", big, index_copy, delay=1.0)
    assert_complete(index_copy, embedder, before)
    assert run_and_kill_at("writing", small, index_copy)
    assert_complete(index_copy, embedder, before)

    # killed after the commit, while the dense index file is being brought up to date
    run_and_kill_at("committed generation", small, index_copy)
    assert_complete(index_copy, embedder, before + 20)

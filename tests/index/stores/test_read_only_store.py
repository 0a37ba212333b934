"""A store this user may not write (no permission; the read-only disk is in
tests/service/server/test_service_read_only.py): opened read-only, readable, writes refused. Runs the
reader as `nobody` over a root-owned copy (needs root and setpriv; skipped otherwise)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from index.stores.sqlite.index import DB_NAME
from service.config import REPO_ROOT

READER = """
import sys
from index.stores.sqlite.store import Store, StoreReadOnly
s = Store(sys.argv[1])
print("read_only", s.read_only, s.read_only_reason)
print("documents", s.counts()["documents"])
try:
    s.write([], ["001_12c9ecdcf328fd1a"], {})
except StoreReadOnly as exc:
    print("refused", exc.strerror)
print("documents", s.counts()["documents"])
"""


@pytest.fixture
def root_owned_index(seed_index_dir):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run a reader as another user")
    probe = as_nobody("import index.stores.sqlite.store, numpy")
    if probe.returncode != 0:  # a checkout inside a private (0700) folder, as `mktemp -d` makes
        pytest.skip(f"user nobody cannot import this checkout: {probe.stderr.strip().splitlines()[-1:]}")
    top = Path(tempfile.mkdtemp(prefix="citeqa-perm-", dir="/tmp"))  # pytest's own folders are 0700
    try:
        shutil.copytree(seed_index_dir, top / "index")
        for p in [top, top / "index", *(top / "index").iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield top / "index"
    finally:
        shutil.rmtree(top, ignore_errors=True)


def as_nobody(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c",
                           code, *args], capture_output=True, text=True, timeout=60, cwd="/tmp",
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def test_a_store_without_write_permission_is_read_only_not_corrupt(root_owned_index):
    before = sorted(p.name for p in root_owned_index.iterdir())
    proc = as_nobody(READER, str(root_owned_index / DB_NAME))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"read_only True no permission to write {root_owned_index}" in out, out
    assert out.count("documents 5") == 2 and "refused the index at" in out and "nothing was written" in out
    assert "corrupt" not in out + proc.stderr
    assert sorted(p.name for p in root_owned_index.iterdir()) == before


def test_a_read_only_reader_sees_the_owners_new_writes(root_owned_index):
    """With the owner's process writing next to it (its WAL and shared memory there), the reader
    reads through them: not a frozen copy."""
    import sqlite3

    db = root_owned_index / DB_NAME
    owner = sqlite3.connect(db, isolation_level=None)
    try:
        owner.execute("PRAGMA journal_mode=WAL")
        owner.execute("INSERT OR REPLACE INTO meta VALUES ('probe', 'first')")
        for p in root_owned_index.iterdir():
            p.chmod(0o644)
        code = "import sys\nfrom index.stores.sqlite.store import Store\nprint(Store(sys.argv[1]).get_meta('probe'))"
        assert as_nobody(code, str(db)).stdout.split()[-1] == "first"
        owner.execute("INSERT OR REPLACE INTO meta VALUES ('probe', 'second')")  # only in the WAL so far
        assert Path(f"{db}-wal").stat().st_size > 0
        proc = as_nobody(code, str(db))
        assert proc.stdout.split()[-1] == "second", proc.stderr
    finally:
        owner.close()

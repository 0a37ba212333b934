"""`citeqa check [--repair]` for a Milvus store: every committed document has all its rows, and
rows of versions nobody reads (a writer killed before its commit, a replaced version whose delete
did not run) are counted, and deleted with --repair.

Walks the documents by ranges of `bucket` (a hash of the doc id that every row carries), a few
hundred documents at a time, with server-side counts: no row is read back.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from index.config import StoreConfig
from index.stores.errors import IndexUnavailable
from index.stores.milvus.client import BUCKETS, MilvusConn, in_list

KINDS = (("chunks", "n_chunks"), ("sentences", "n_sentences"), ("texts", "n_parts"))
GROUP = 500  # documents per walk step


@dataclass
class MilvusFindings:
    missing: list[str] = field(default_factory=list)  # committed documents short of rows
    orphans: dict[str, int] = field(default_factory=dict)  # rows nobody reads, by collection
    documents: int = 0

    @property
    def sound(self) -> bool:
        return not self.missing and not any(self.orphans.values())


def _groups(docs: list[dict]) -> list[tuple[int, int, list[dict]]]:
    """[lo, hi) bucket ranges covering every bucket, each with at most about GROUP documents."""
    by_bucket: dict[int, list[dict]] = {}
    for d in docs:
        by_bucket.setdefault(int(d["bucket"]), []).append(d)
    out, lo, cur = [], 0, []
    for b in sorted(by_bucket):
        if cur and len(cur) + len(by_bucket[b]) > GROUP:
            out.append((lo, b, cur))
            lo, cur = b, []
        cur.extend(by_bucket[b])
    out.append((lo, BUCKETS, cur))
    return out


def inspect(conn: MilvusConn, repair: bool = False) -> MilvusFindings:
    docs = conn.ranged("documents", 'doc_id != ""', ["doc_id", "ver", "bucket", *(n for _, n in KINDS)], "bucket", 0,
                       BUCKETS)
    found = MilvusFindings(documents=len(docs), orphans={k: 0 for k, _ in KINDS})
    for lo, hi, group in _groups(docs):
        span = f"bucket >= {lo} and bucket < {hi}"
        vers = [int(d["ver"]) for d in group]
        for kind, n_field in KINDS:
            current = f"{span} and {in_list('ver', vers)}" if vers else None
            have = conn.count(kind, current) if current else 0
            want = sum(int(d[n_field]) for d in group)
            if have != want:  # which documents: only when something is wrong
                for d in group:
                    if conn.count(kind, f"ver == {int(d['ver'])}") != int(d[n_field]):
                        found.missing.append(f"{d['doc_id']}: {kind} rows missing")
            extra = conn.count(kind, span) - have
            found.orphans[kind] += extra
            if repair and extra:
                conn.delete(kind, f"{span} and ver not in [{', '.join(map(str, vers))}]" if vers else span)
    if repair:
        conn.flush()
    return found



def main(cfg: StoreConfig, repair: bool) -> int:
    """`citeqa check` of a Milvus store (through index/stores/factory.check)."""
    uri = cfg.milvus.uri
    try:
        conn = MilvusConn.from_config(cfg.milvus)
        found = inspect(conn, repair=repair)
    except (FileNotFoundError, IndexUnavailable) as exc:
        print(f"citeqa check: {exc}", file=sys.stderr)
        return 2
    for line in found.missing:
        print(f"problem: {line} (re-ingest the document, or `citeqa ingest --rebuild`)")
    for kind, n in found.orphans.items():
        if n:
            print(("deleted" if repair else "problem:") + f" {n} {kind} rows of versions nobody reads "
                  "(a writer stopped before its commit, or an old version's delete did not run)")
    if found.sound or (repair and not found.missing):
        print(f"ok: the Milvus store at {uri} is sound ({found.documents} documents)")
        return 0
    if not repair and not found.missing:
        print("run `citeqa check --repair` to delete them (no document is touched)")
    return 1


__all__ = ["MilvusFindings", "inspect", "main"]

"""`citeqa ingest`: incremental, atomic (re)build of the index from article files."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from index.types import CleanDocument
from index.stores.base import Index
from index.text.loading import MAX_FILE_BYTES, BadInput, Skipped, discover, load_file

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    seconds: float = 0.0
    totals: dict = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"documents: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, {len(self.skipped)} skipped",
            f"embedded: {self.chunks_embedded} chunks, {self.sentences_embedded} sentences"
            + (" (nothing changed: nothing embedded)" if not self.chunks_embedded and not self.removed else ""),
            f"index now: {self.totals.get('documents', 0)} documents, {self.totals.get('chunks', 0)} chunks, "
            f"{self.totals.get('sentences', 0)} sentences",
            f"time: {self.seconds:.2f} s",
        ]
        lines += [f"skipped {s.path}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def _inside(source: str, roots: list[Path]) -> bool:
    p = Path(source)
    return any(p == r or r in p.parents for r in roots)


def ingest(index: Index, paths: list[Path], rebuild: bool = False, progress: bool | None = None,
           carried: list[CleanDocument] = (), max_file_bytes: int = MAX_FILE_BYTES) -> IngestReport:
    """Bring the index in step with the files under `paths` (see `plan`), in this process."""
    t0 = time.perf_counter()
    report, todo = plan(index, paths, rebuild, carried, max_file_bytes)
    if todo:
        log.info("embedding %d documents", len(todo))
    bundles = index.prepare(todo, progress=progress) if todo else []
    report.chunks_embedded = sum(len(b.chunks) for b in bundles)
    report.sentences_embedded = sum(len(b.sentences) for b in bundles)
    if bundles or report.removed or rebuild or index.store.generation() == 0:
        index.apply(bundles, report.removed, wipe=rebuild)
    report.totals = index.store.counts()
    report.seconds = time.perf_counter() - t0
    return report


def plan(index, paths: list[Path], rebuild: bool = False, carried: list[CleanDocument] = (),
         max_file_bytes: int = MAX_FILE_BYTES) -> tuple[IngestReport, list[CleanDocument]]:
    """What bringing the index in step with the files under `paths` takes: (report so far, the
    documents to embed and write). Nothing is written.

    Unchanged files (same sha256) are not re-embedded. A document whose file has gone from a
    scanned folder (or a named file that no longer exists) is removed; documents from other
    folders or added through the API are left alone. Files that cannot be read are reported and
    skipped, and their previous version, if any, is kept. `carried`: documents read from a store
    set aside as corrupt, kept (re-embedded) unless a file of this run has their id.
    """
    report = IngestReport()
    roots = [p.resolve() for p in paths]
    files, report.skipped = discover(roots)

    known = {d.doc_id: d for d in index.store.documents()}
    seen: set[str] = set()
    todo = []
    for path in files:
        doc_id = path.stem
        if doc_id in seen:
            report.skipped.append(Skipped(str(path), f"another file already has the document id {doc_id!r}"))
            continue
        seen.add(doc_id)
        try:
            doc = load_file(path, max_file_bytes)
        except BadInput as exc:
            report.skipped.append(Skipped(str(path), str(exc)))
            continue
        old = known.get(doc_id)
        if old is not None and old.sha256 == doc.sha256 and not rebuild:
            report.unchanged.append(doc_id)
            continue
        (report.updated if old is not None else report.added).append(doc_id)
        todo.append(doc)

    skipped_paths = {Path(s.path) for s in report.skipped}
    for doc_id, row in known.items():
        if doc_id in seen or rebuild:
            continue
        src = Path(row.source) if row.source else None
        if src is not None and _inside(row.source, roots) and not src.exists() and src not in skipped_paths:
            report.removed.append(doc_id)

    if rebuild:
        # Documents this run did not read (added through the API, or from other folders) are
        # re-embedded from their stored text: a rebuild must not lose them.
        for doc_id, row in known.items():
            if doc_id in seen or doc_id in report.removed:
                continue
            text = index.store.document_text(doc_id) or ""
            todo.append(CleanDocument(doc_id=doc_id, title=row.title, text=text, date=row.date,
                                      author=row.author, source=row.source, sha256=row.sha256,
                                      page_starts=index.store.page_starts([doc_id]).get(doc_id)))
            report.updated.append(doc_id)
    for doc in carried:
        if doc.doc_id not in seen and doc.doc_id not in known:
            seen.add(doc.doc_id)
            todo.append(doc)
            report.added.append(doc.doc_id)

    return report, todo

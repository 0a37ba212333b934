"""What an index was built with; an index built differently is refused with a clear message."""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

FORMAT_VERSION = 1
# Bumped when cleaning, sentence splitting or chunking change what a document turns into.
PIPELINE_VERSION = 4  # 2: hyphen parts, U.S. and demonym normalisation in stored terms; 3: stand-alone sentences
# (mentions.py); 4: no demonym normalisation (no list of countries)


class IndexMismatch(RuntimeError):
    pass


def expected_manifest(model_name: str, dim: int, chunk_tokens: int, overlap: int,
                      sentence_vectors: str = "separate", chunk_vectors: str = "separate") -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "pipeline_version": PIPELINE_VERSION,
        "embedding_model": model_name,
        "embedding_dim": dim,
        "tokenizer": "cl100k_base",
        "sentence_splitter": "blingfire",
        "chunk_tokens": chunk_tokens,
        "chunk_overlap_sentences": overlap,
        "sentence_vectors": sentence_vectors,
        "chunk_vectors": chunk_vectors,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# keys that make stored vectors or offsets meaningless when they differ
_HARD = ("format_version", "embedding_model", "embedding_dim")
# keys that only matter when new documents would be mixed with old ones
_PIPELINE = ("pipeline_version", "tokenizer", "sentence_splitter", "chunk_tokens", "chunk_overlap_sentences",
             "sentence_vectors", "chunk_vectors")
# what an index written before a key existed was built with
_DEFAULTS = {"sentence_vectors": "separate", "chunk_vectors": "separate"}


def late_sentences_for(found: dict | None, late_sentences: bool | None, rebuild: bool) -> bool:
    """The sentence-vector kind an index is opened with: the setting's when given (True/False); else
    (None, "auto") the kind the index was built with, so an index built with late vectors keeps taking
    writes without the setting, and separate for a new index or a rebuild."""
    if late_sentences is not None:
        return late_sentences
    if rebuild or not found:
        return False
    return found.get("sentence_vectors", _DEFAULTS["sentence_vectors"]) == "late"


def check_compatible(found: dict | None, expected: dict, for_writing: bool) -> None:
    if not found:
        return
    keys = _HARD + (_PIPELINE if for_writing else ())
    diffs = [f"{k}: index has {found.get(k)!r}, this run uses {expected.get(k)!r}" for k in keys
             if found.get(k, _DEFAULTS.get(k)) != expected.get(k)]
    if diffs:
        raise IndexMismatch(
            "the index was built with different settings (" + "; ".join(diffs) + "); "
            "re-run `citeqa ingest --rebuild`"
        )


def write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

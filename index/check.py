"""`citeqa check [--repair]`: is the index sound, and fix it when it is not (the configured store's
own check: index/stores/sqlite/check.py, index/stores/milvus/check.py).
Exit status: 0 sound (or repaired), 1 problems left, 2 no index or an error."""
from __future__ import annotations

import argparse

from index.config import EmbedderConfig, StoreConfig
from index.stores.factory import check


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-dir")
    p.add_argument("--repair", action="store_true", help="rebuild what fails (documents are kept)")


def main(args: argparse.Namespace, cfg: StoreConfig, embedder_cfg: EmbedderConfig) -> int:
    """The values come from the caller (the CLI's settings): nothing under index/ reads the service's."""
    return check(cfg, embedder_cfg, args.repair)

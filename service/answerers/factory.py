"""Answerer by name. Only the extractive one ships: it runs embedded on CPU and cannot invent text.
A generative answerer (an OpenAI-compatible endpoint) would register here without touching
retrieval or the API."""
from __future__ import annotations

from service.answerers.base import Answerer


def create(name: str, **kwargs) -> Answerer:
    if name == "extractive":
        from service.answerers.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(**kwargs)
    raise ValueError(f"unknown answerer {name!r} (available: extractive)")

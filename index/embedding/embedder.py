"""Sentence-transformers embedder, loaded once, from a folder on disk (never from a hub)."""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

# No code path may try the network: the model is a folder shipped inside a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from index.config import EmbedderConfig  # noqa: E402

log = logging.getLogger(__name__)


class Embedder:
    """Normalized embeddings; `encode` is safe to call from several threads (one at a time)."""

    def __init__(self, model_path: Path | str, model_name: str = "", batch_size: int = 32, quantize: bool = False,
                 backend: str = "auto", onnx_cache_dir: Path | str | None = None, threads: int = 0,
                 bulk_threads: int = 0):
        self.model_path = Path(model_path)
        if not (self.model_path / "config.json").exists() and not (self.model_path / "modules.json").exists():
            raise FileNotFoundError(f"no sentence-transformers model in {self.model_path}")
        self.model_name = model_name or self.model_path.name
        self.batch_size = batch_size
        self._model = None  # the SentenceTransformer, loaded only for the torch path or a first export
        self._lock = threading.Lock()  # a torch module is not re-entrant across threads
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"embedding backend must be auto, onnx or torch, not {backend!r}")
        # ONNX Runtime computes the same vectors (cosine > 0.99999 to torch's, tested) ~1.7x faster;
        # "auto" falls back to torch when it cannot. int8 there is ONNX Runtime's per-channel
        # dynamic quantization of the exported graph (the name gets "+int8": an index never mixes them).
        # Once the graph is exported, this path imports neither torch nor sentence-transformers.
        self._onnx = None
        self.backend = "torch"
        if backend != "torch":
            from index.embedding.onnx_runtime import OnnxEncoder, Unsupported

            cache = Path(onnx_cache_dir) if onnx_cache_dir else self.model_path.parent / ".onnx"
            try:
                self._onnx = OnnxEncoder(self.model_path, cache, threads=threads or cores(), quantize=quantize,
                                         st_model=self._st, bulk_threads=bulk_threads)
                self.dim, self.max_seq_length = self._onnx.dim, self._onnx.max_length
                self.backend = "onnx"
                if quantize and not self.model_name.endswith("+onnx-int8"):  # a name given whole is kept
                    self.model_name += "+onnx-int8"
                return
            except Unsupported as exc:
                if backend == "onnx":
                    raise ValueError(f"the ONNX backend cannot run this model: {exc}") from exc
                log.warning("embedding with torch instead of ONNX Runtime: %s", exc)
        model = self._st()
        self.dim = int(model.get_embedding_dimension())
        self.max_seq_length = int(model.max_seq_length)
        if quantize:
            # int8 dynamic quantization of the Linear layers: ~2.4x faster on CPU, vectors move a
            # little (the name changes, so an index never mixes the two; see README for the eval)
            import warnings

            import torch

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            if not self.model_name.endswith("+int8"):
                self.model_name += "+int8"

    def _st(self):
        """The sentence-transformers model (torch), loaded on first use."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars on every start are noise
            self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    @classmethod
    def from_config(cls, cfg: EmbedderConfig, threads: int = 0, bulk_threads: int = 0) -> "Embedder":
        """`threads`: ONNX Runtime threads when cfg.threads leaves it open (0: all cores);
        `bulk_threads`: those of bulk work (`wide` calls, calls of many batches; 0: `threads`)."""
        return cls(cfg.model_path, cfg.model_name, cfg.batch_size, quantize=cfg.quantize, backend=cfg.backend,
                   onnx_cache_dir=cfg.onnx_cache_dir, threads=cfg.threads or threads,
                   bulk_threads=cfg.threads or bulk_threads)

    @property
    def batch_dependent(self) -> bool:
        """int8 ONNX scales activations per call: a text's vector moves with its batch mates, so
        questions are embedded one per call (an answer must not depend on the load)."""
        return self._onnx is not None and self.model_name.endswith("+onnx-int8")

    @property
    def can_late_chunk(self) -> bool:
        return self._onnx is not None

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], wide: bool = False):
        """(text vectors, span vectors per text; None where truncation cut a span): ONNX only."""
        with self._lock:
            return self._onnx.encode_spans(texts, spans, self.batch_size, wide=wide)

    @property
    def tokenizer(self):
        return self._onnx.tokenizer if self._onnx is not None else self._st().tokenizer

    def encode(self, texts: list[str], progress: bool | None = None, wide: bool = False) -> np.ndarray:
        """Unit vectors of `texts`; `wide`: bulk work (a slice of an upload), run on the bulk threads."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if progress is None:
            progress = sys.stderr.isatty() and len(texts) > self.batch_size
        with self._lock:
            if self._onnx is not None:
                return self._onnx.encode(texts, self.batch_size, progress, wide=wide)
            vecs = self._st().encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,  # a tqdm bar, on a terminal only
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1

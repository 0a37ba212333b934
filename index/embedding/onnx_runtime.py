"""The embedding model run by ONNX Runtime: the same vectors, about 1.7x faster on this CPU.

sentence-transformers has an ONNX backend, but it goes through optimum, which pins transformers
4.x (a downgrade of this whole stack), so the graph is exported here with torch.onnx and run with
onnxruntime directly. Only what MiniLM-style models need is supported: a BERT-like transformer,
mean or CLS pooling, optional normalization; anything else raises `Unsupported` and the caller
keeps the torch path. The export (about a second) is cached on disk, keyed by the weights' hash,
and written atomically.
"""
from __future__ import annotations

import hashlib
import os
import queue
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np


class Unsupported(RuntimeError):
    """This model (or this machine) cannot use the ONNX path; use torch."""


def _weights_digest(model_dir: Path) -> str:
    for name in ("model.safetensors", "pytorch_model.bin"):
        f = model_dir / name
        if f.exists():
            h = hashlib.sha256()
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()[:16]
    raise Unsupported(f"no weights file in {model_dir}")


def layout(model_dir: Path) -> dict:
    """What the ONNX path needs from a sentence-transformers folder, read from its files (so a
    service start does not import sentence-transformers, ~7 s on 2 cores): pooling 'mean' | 'cls',
    normalize, max_seq_length, dim. Unsupported for anything but transformer + pooling (+ normalize)."""
    import json

    def read(name: str) -> dict | list:
        try:
            return json.loads((model_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Unsupported(f"cannot read {name}: {exc}") from exc

    modules = read("modules.json")
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]  # "sentence_transformers.models.Pooling"
    if not kinds or kinds[0] != "Transformer":
        raise Unsupported("the first module is not a transformer")
    normalize = kinds[-1] == "Normalize"
    if kinds[1:len(kinds) - normalize] != ["Pooling"]:
        raise Unsupported("only transformer + pooling (+ normalize) models are supported")
    cfg = read(f"{modules[1].get('path', '')}/config.json")
    mode = cfg.get("pooling_mode")  # newer files name it; older ones set one pooling_mode_* flag
    if mode is None:
        on = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True]
        mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(on[0]) if len(on) == 1 else on
    if mode not in ("mean", "cls"):
        raise Unsupported(f"pooling mode {mode!r}")
    max_len = read("sentence_bert_config.json").get("max_seq_length")
    dim = cfg.get("word_embedding_dimension")
    if not max_len or not dim:
        raise Unsupported("no max_seq_length or embedding dimension in the model's files")
    return {"mode": mode, "normalize": normalize, "max_seq_length": int(max_len), "dim": int(dim)}


def load_tokenizer(model_dir: Path):
    """A model folder's fast tokenizer from its tokenizer.json (the embedder's and the readers'),
    without AutoTokenizer (which imports torch): the same word pieces, offsets and token types (tested)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(model_dir),
                                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


class OnnxEncoder:
    def __init__(self, model_dir: Path, cache_dir: Path, threads: int, quantize: bool = False, st_model=None,
                 bulk_threads: int = 0):
        """`st_model`: a callable giving the loaded SentenceTransformer, needed only to export the
        graph once; a cached export runs without it. `bulk_threads` (0: `threads`): the threads of
        bulk work (`wide` calls, and calls of many batches), where a service answers each question
        on one thread but an upload should use the cores the questions leave idle."""
        try:
            import onnxruntime as ort  # noqa: F401
        except ImportError as exc:
            raise Unsupported("onnxruntime is not installed") from exc
        model_dir = Path(model_dir)
        info = layout(model_dir)
        self.mode, self.normalize, self.max_length, self.dim = (info["mode"], info["normalize"], info["max_seq_length"],
                                                                info["dim"])
        self.tokenizer = load_tokenizer(model_dir)
        self.path = Path(cache_dir) / f"{model_dir.name}-{_weights_digest(model_dir)}.onnx"
        if not self.path.exists():
            if st_model is None:
                raise Unsupported("no exported graph and no model to export it from")
            self._export(st_model())
        if quantize:
            self.path = self._quantized(self.path)
        self.threads = max(1, threads)
        self.session = self._session(self.threads)
        self.inputs = {i.name for i in self.session.get_inputs()}
        # A call of many batches runs them on `workers` one-thread sessions side by side: on 2 cores
        # that embedded the real-article corpus 7-15 % faster than one 2-thread session (eval/bench/
        # embed_passes.py), each tokenising while the other runs. One batch keeps the wide session.
        self.workers = max(self.threads, bulk_threads)  # the bulk threads
        self._singles: list | None = None
        self._wide = None  # the `workers`-thread session of `wide` single-batch calls, made on first use
        self._tokenize_lock = threading.Lock()  # a fast tokenizer is reconfigured on every call

    def _session(self, threads: int, path: Path | None = None):
        """An ONNX Runtime session on this model (or another graph of it: eval/bench/embed_passes.py)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(path or self.path), opts, providers=["CPUExecutionProvider"])

    def _export(self, st_model) -> None:
        try:
            import onnx  # noqa: F401  (torch's exporter needs it)
            import torch
        except ImportError as exc:
            raise Unsupported("the onnx package is needed once, to export the model") from exc
        transformer = st_model[0].auto_model.eval()

        class Wrapped(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        sample = self.tokenizer(["an example sentence", "two"], padding=True, return_tensors="pt")
        if "token_type_ids" not in sample:
            raise Unsupported("the tokenizer gives no token_type_ids")
        axes = {0: "batch", 1: "tokens"}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".onnx.tmp")
        except OSError as exc:  # a read-only install: run on torch rather than not at all
            raise Unsupported(f"cannot write the ONNX copy to {self.path.parent}: {exc}") from exc
        os.close(fd)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer notes on shapes, not problems
                torch.onnx.export(
                    Wrapped(transformer), (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
                    tmp, input_names=["input_ids", "attention_mask", "token_type_ids"],
                    output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                    dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                  "last_hidden_state": axes},
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)  # a reader never sees half a file
        except Exception as exc:
            Path(tmp).unlink(missing_ok=True)
            raise Unsupported(f"export failed: {exc}") from exc

    @staticmethod
    def _quantized(fp32: Path) -> Path:
        """int8 weights (per output channel: per-tensor scales cost the reader over a point of F1,
        training/reader/export.py), activations quantized per batch at run time; cached beside fp32."""
        dst = fp32.with_name(fp32.stem + "-int8.onnx")
        if dst.exists():
            return dst
        try:
            from onnxruntime.quantization import QuantType, quantize_dynamic
        except ImportError as exc:
            raise Unsupported("onnxruntime.quantization is missing") from exc
        fd, tmp = tempfile.mkstemp(dir=dst.parent, suffix=".onnx.tmp")
        os.close(fd)
        try:
            import logging

            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # its "consider pre-processing" hint is logged on the root logger
            try:
                quantize_dynamic(str(fp32), tmp, weight_type=QuantType.QInt8, per_channel=True)
            finally:
                root.setLevel(level)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dst)
        except Exception as exc:
            Path(tmp).unlink(missing_ok=True)
            raise Unsupported(f"int8 quantization failed: {exc}") from exc
        return dst

    def _wide_session(self):
        """The session of bulk work; callers are serialised by the Embedder, as for `_singles`."""
        if self.workers <= self.threads:
            return self.session
        if self._wide is None:
            self._wide = self._session(self.workers)
        return self._wide

    def _passes(self, texts: list[str], batch_size: int, progress: bool = False, offsets: bool = False,
                wide: bool = False):
        """Forward passes over `texts` sorted by length (similar lengths pad less): yields, per batch,
        in order, (indices into texts, the tokenizer's output, the token states, the pooled text vectors).
        A batch's vectors do not depend on which session ran it (the same batches either way)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(starts), desc="Batches", unit="batch")

        def one(i: int, session):
            idx = order[i : i + batch_size]
            with self._tokenize_lock:
                enc = self.tokenizer([texts[j] for j in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="np", return_offsets_mapping=offsets)
            feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")
                    if k in self.inputs}
            hidden = session.run(None, feed)[0]
            if self.mode == "mean":
                mask = enc["attention_mask"][..., None].astype(np.float32)
                vecs = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            else:
                vecs = hidden[:, 0]
            return idx, enc, hidden, (_unit(vecs) if self.normalize else vecs.astype(np.float32))

        try:
            if self.workers <= 1 or len(starts) < 2:
                session = self._wide_session() if wide else self.session
                for i in starts:
                    yield one(i, session)
                    bar and bar.update()
                return
            yield from self._side_by_side(one, starts, bar)
        finally:
            bar and bar.close()

    def _side_by_side(self, one, starts, bar):
        """`one(start, session)` for every batch on the one-thread sessions, results in order, at most
        two batches per session in flight (token states are large)."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        if self._singles is None:
            self._singles = [self._session(1) for _ in range(self.workers)]
        free: queue.SimpleQueue = queue.SimpleQueue()
        for sess in self._singles:
            free.put(sess)

        def run(i: int):
            sess = free.get()
            try:
                return one(i, sess)
            finally:
                free.put(sess)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="embed") as pool:
            pending: deque = deque()
            for i in starts:
                pending.append(pool.submit(run, i))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
                    bar and bar.update()
            while pending:
                yield pending.popleft().result()
                bar and bar.update()

    def encode(self, texts: list[str], batch_size: int, progress: bool = False, wide: bool = False) -> np.ndarray:
        assert texts, "encode() needs at least one text"
        out: np.ndarray | None = None
        for idx, _, _, vecs in self._passes(texts, batch_size, progress, wide=wide):
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
        return out

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int, wide: bool = False
                     ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """Each text's vector and, from the same forward pass, a vector for each of its character
        spans: the mean of the span's token states ("late chunking": a sentence read in its chunk's
        context, without a pass of its own). A span whose tokens were cut off by truncation is None."""
        out: np.ndarray | None = None
        span_out: list[list[np.ndarray | None]] = [[] for _ in texts]
        for idx, enc, hidden, vecs in self._passes(texts, batch_size, offsets=True, wide=wide):
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
            offsets = enc["offset_mapping"]
            for r, j in enumerate(idx):
                span_out[j] = span_means(hidden[r], offsets[r], enc["attention_mask"][r], spans[j], self.normalize)
        return out, span_out


def span_means(hidden: np.ndarray, offsets: np.ndarray, mask: np.ndarray, spans: list[tuple[int, int]],
               normalize: bool) -> list[np.ndarray | None]:
    """Pure: for each character span of one text, the mean of the token states inside it (unit length
    if `normalize`), or None where no token is inside it or the window cut it off (partly). One
    (spans x tokens) product per text rather than numpy calls per span: per-span calls were ~1.5 s of
    the main thread over ten long articles, CPU the model's threads wanted."""
    if not spans:
        return []
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = (ends > starts) & (mask > 0)  # special and pad tokens are (0, 0)
    bounds = np.asarray(spans, dtype=np.int64)
    sel = real[None, :] & (starts[None, :] >= bounds[:, :1]) & (ends[None, :] <= bounds[:, 1:])
    counts = sel.sum(axis=1)
    reach = int(ends[real].max()) if real.any() else -1
    ok = (counts > 0) & (reach >= bounds[:, 1] - 1)  # else cut off (partly) by truncation
    vecs = (sel.astype(hidden.dtype) @ hidden) / np.maximum(counts, 1)[:, None].astype(hidden.dtype)
    if normalize:
        vecs = _unit(vecs)
    return [vecs[k] if ok[k] else None for k in range(len(spans))]


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)

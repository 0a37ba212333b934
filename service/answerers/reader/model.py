"""The extractive reader: (question, passages) -> the best answer span of each passage.

Split as HF's question-answering pipeline is: `preprocess` (tokenize question + passage into
windows with character offsets), `forward` (one batched model call: ONNX Runtime for the shipped
int8 model, torch for a training checkpoint), `postprocess` (span decoding, service/answerers/reader/decode.py).
Loaded once; the service calls it from one model thread (service/answerers/reader/runner.py).
"""
from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.answerers.reader import int8
from service.answerers.reader.decode import Span, best_per_passage, window_span

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent / "model"
# the second stage shipped with it (a 12-layer reader re-reading the passages of questions the first is unsure of)
SECOND_DIR = Path(__file__).resolve().parent / "second"
ONNX_NAME = "model.onnx"
CALIBRATION_NAME = "calibration.json"


def takes_token_types(model) -> bool:
    """BERT-style models take token types; MPNet and RoBERTa have none (nor do their tokenizers)."""
    return "token_type_ids" in inspect.signature(model.forward).parameters


class ReaderUnavailable(RuntimeError):
    """No reader model at the given path (the service then falls back to the heuristic answerer)."""


@dataclass
class Features:
    input_ids: np.ndarray  # (windows, L) padded
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    offsets: list[np.ndarray]  # per window: (L, 2) character offsets into its passage
    context: list[np.ndarray]  # per window: bool mask of passage tokens
    passage: list[int]  # per window: which passage


class ReaderModel:
    def __init__(self, model_dir: Path, threads: int = 0, max_length: int = 256, stride: int = 96,
                 max_answer_tokens: int = 30, max_question_tokens: int = 64):
        from index.embedding.onnx_runtime import load_tokenizer

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "tokenizer.json").exists():
            raise ReaderUnavailable(f"no reader model in {self.model_dir}")
        # the embedder's loader, not AutoTokenizer (which imports torch): the same word pieces, offsets
        # and windows (tests/service/answerers/reader/test_reader.py); token types always come back
        # (BERT's are fed, MPNet's are not: see forward)
        self.tokenizer = load_tokenizer(self.model_dir)
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens
        self.max_question_tokens = max_question_tokens
        onnx_path = self.model_dir / ONNX_NAME
        if onnx_path.exists():
            import onnxruntime as ort

            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            # converted to uint8 weights where this CPU's int8 products would saturate (int8.py)
            self._session = int8.session(onnx_path, opts)
            self._inputs = {i.name for i in self._session.get_inputs()}
            self._torch = None
            self.backend = "onnx"
        elif (self.model_dir / "model.safetensors").exists():
            import torch
            from transformers import AutoModelForQuestionAnswering

            if threads:
                torch.set_num_threads(threads)
            self._torch = AutoModelForQuestionAnswering.from_pretrained(str(self.model_dir)).eval()
            self._takes_types = takes_token_types(self._torch)
            self._session = None
            self.backend = "torch"
        else:
            raise ReaderUnavailable(f"no {ONNX_NAME} or model.safetensors in {self.model_dir}")
        cal = self.model_dir / CALIBRATION_NAME
        self.calibration: dict = json.loads(cal.read_text(encoding="utf-8")) if cal.exists() else {}

    # ---- the three stages ----------------------------------------------------------------------
    def short_question(self, question: str) -> str:
        """At most max_question_tokens word pieces (BERT's SQuAD recipe keeps 64): a long question
        would leave no room for the passage."""
        enc = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        if len(enc["input_ids"]) <= self.max_question_tokens:
            return question
        return question[:enc["offset_mapping"][self.max_question_tokens - 1][1]]

    def preprocess(self, question: str, passages: list[str]) -> Features:
        question = self.short_question(question)
        enc = self.tokenizer([question] * len(passages), passages, truncation="only_second",
                             max_length=self.max_length, stride=self.stride, return_overflowing_tokens=True,
                             return_offsets_mapping=True, padding=False)
        n = len(enc["input_ids"])
        width = max(len(x) for x in enc["input_ids"]) if n else 0
        ids = np.full((n, width), self.tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        offsets, context = [], []
        for k in range(n):
            row = enc["input_ids"][k]
            ids[k, :len(row)] = row
            mask[k, :len(row)] = 1
            if "token_type_ids" in enc:  # MPNet/RoBERTa tokenizers have none (zeros, not fed to such models)
                types[k, :len(row)] = enc["token_type_ids"][k]
            seq = enc.sequence_ids(k)
            context.append(np.array([s == 1 for s in seq] + [False] * (width - len(row))))
            offsets.append(np.array(list(enc["offset_mapping"][k]) + [(0, 0)] * (width - len(row))))
        return Features(ids, mask, types, offsets, context, list(enc["overflow_to_sample_mapping"]))

    def forward(self, feats: Features) -> tuple[np.ndarray, np.ndarray]:
        if len(feats.passage) == 0:
            return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
        if self._session is not None:
            feed = {"input_ids": feats.input_ids, "attention_mask": feats.attention_mask,
                    "token_type_ids": feats.token_type_ids}
            start, end = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
            return start, end
        import torch

        kw = {"token_type_ids": torch.from_numpy(feats.token_type_ids)} if self._takes_types else {}
        with torch.inference_mode():
            out = self._torch(input_ids=torch.from_numpy(feats.input_ids),
                              attention_mask=torch.from_numpy(feats.attention_mask), **kw)
        return out.start_logits.float().numpy(), out.end_logits.float().numpy()

    def postprocess(self, feats: Features, start: np.ndarray, end: np.ndarray) -> list[Span]:
        spans = []
        for k, p in enumerate(feats.passage):
            sp = window_span(start[k], end[k], feats.offsets[k], feats.context[k], p, self.max_answer_tokens)
            if sp is not None:
                spans.append(sp)
        return best_per_passage(spans)

    # ---- convenience ---------------------------------------------------------------------------
    def run(self, question: str, passages: list[str]) -> list[Span]:
        """The best span of each passage, highest margin first."""
        return self.run_many([(question, passages)])[0]

    def run_many(self, items: list[tuple[str, list[str]]]) -> list[list[Span]]:
        """Several questions, each read in a model call of its own: int8 dynamic quantization scales
        activations over the whole batch, so a call shared with other questions made a question's
        scores depend on its neighbours (a margin of 5.84 alone, 5.30 batched), and an answer must
        not depend on the load."""
        out = []
        for question, passages in items:
            feats = self.preprocess(question, passages)
            out.append(self.postprocess(feats, *self.forward(feats)))
        return out

"""Can a faster kernel, or one model pass instead of two, bring `citeqa ingest` of real articles to
80 chunks/s? Times the embedder's model over the real-article corpus's chunk texts and sentence
texts (eval/bench/real_corpus.py) under the kernel options this machine offers, then the one pass
that reads every word once: chunk vectors pooled from a pass over non-overlapping windows (each
chunk's new sentences under its headline; the overlap sentence's token states come from the window
before). What such a vector loses is given as its cosine to the shipped one.

    python -m eval.bench.embed_passes [--corpus DIR] [--limit N] [--out DIR]

A chunk vector at the default's quality needs the pass over the chunks, so `seconds of that pass`
against `chunks / 80` says whether the target can be met on this CPU at all.
"""
from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench.ingest_stages import prepared
from index.preparing import embed_text_for
from index.types import Chunk, CleanDocument

# (window of the chunk, [(earlier window, start, end) of each overlap sentence, in that window's characters])
WindowPlan = tuple[int, list[tuple[int, int, int]]]


def window_plan(doc: CleanDocument, chunks: list[Chunk], first: int = 0) -> tuple[list[str], list[WindowPlan]]:
    """Pure: one window per chunk (its headline line, then the text from its first sentence that no
    earlier chunk held), and where each of its other sentences was read. `first`: the index of
    this document's first window among all windows."""
    windows: list[str] = []
    plans: list[WindowPlan] = []
    read_in: dict = {}  # sentence span -> (window, offset of the document's character 0 in it)
    for ch in chunks:
        full = embed_text_for(doc, ch)
        prefix = full[: len(full) - len(ch.text)]
        new = [u for u in ch.sentences if u not in read_in]
        start = new[0].start if new else ch.end
        w = first + len(windows)
        windows.append(prefix + doc.text[start : ch.end])
        shift = len(prefix) - start
        old = []
        for u in ch.sentences:
            if u in read_in:
                pw, pshift = read_in[u]
                old.append((pw, u.start + pshift, u.end + pshift))
            else:
                read_in[u] = (w, shift)
        plans.append((w, old))
    return windows, plans


def pool_windows(states: list[tuple[np.ndarray, np.ndarray]], plans: list[WindowPlan]) -> np.ndarray:
    """Pure: each chunk's vector as the normalised mean of its window's token states (special
    tokens included, as sentence-transformers' mean pooling does) and its overlap sentences'
    token states in the windows that read them. `states[w]`: (token states, character offsets) of
    window w's real tokens."""
    out = np.zeros((len(plans), states[0][0].shape[1]), dtype=np.float32)
    for i, (w, old) in enumerate(plans):
        h = states[w][0]
        total, n = h.sum(axis=0), len(h)
        for pw, s, e in old:
            ph, off = states[pw]
            sel = (off[:, 1] > off[:, 0]) & (off[:, 0] >= s) & (off[:, 1] <= e)
            total, n = total + ph[sel].sum(axis=0), n + int(sel.sum())
        v = total / max(n, 1)
        out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def corpus_texts(corpus: Path, chunk_tokens: int, overlap: int) -> dict:
    """The texts an ingest embeds (chunks under their headline, each sentence read on its own) and
    the windows of the one-pass variant."""
    chunk_texts, sentence_texts, windows, plans = [], [], [], []
    for doc, chunks, _, alone in prepared(corpus, chunk_tokens, overlap):
        sentence_texts += alone
        chunk_texts += [embed_text_for(doc, ch) for ch in chunks]
        w, p = window_plan(doc, chunks, first=len(windows))
        windows += w
        plans += p
    return {"chunks": chunk_texts, "sentences": sentence_texts, "windows": windows, "plans": plans}


def _with_session(onnx, session):
    """The encoder on this one session for every batch (no side-by-side sessions)."""
    enc = copy.copy(onnx)
    enc.session, enc.workers, enc._singles = session, 1, None
    enc.inputs = {i.name for i in session.get_inputs()}
    return enc


def _optimized_int8(fp32: Path, work: Path) -> Path:
    """ORT's transformer optimizer (fused attention, layer norm, GELU), then the same int8 step."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    opt, q = work / "opt.onnx", work / "opt-int8.onnx"
    import onnx

    optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=1).save_model_to_file(str(opt))
    quantize_dynamic(str(opt), str(q), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fused ops have no inferred type
    return q


def options(embedder, threads: int, work: Path) -> dict:
    """name -> encode(texts) for each way of running the model measured here."""
    import torch

    onnx = embedder._onnx
    fp32 = onnx.path.with_name(onnx.path.name.replace("-int8", ""))
    wide = _with_session(onnx, onnx._session(threads))

    st = embedder._st()  # the torch model, loaded for this option only

    def bf16(texts):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return st.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)

    opts = {
        f"int8, {threads} one-thread sessions side by side (shipped)": lambda t: onnx.encode(t, 16),
        f"int8, one {threads}-thread session": lambda t: wide.encode(t, 16),
        "int8, batch 32": lambda t: onnx.encode(t, 32),
        "fp32": lambda t, e=_with_session(onnx, onnx._session(threads, fp32)): e.encode(t, 16),
        "torch bf16 autocast": bf16,
    }
    try:
        opt = _with_session(onnx, onnx._session(threads, _optimized_int8(fp32, work)))
        opts["ORT transformer optimizer, then int8"] = lambda t: opt.encode(t, 16)
    except Exception as exc:  # the optimizer is an optional part of onnxruntime
        print(f"(no optimizer run: {exc})")
    return opts


def run(corpus: Path, limit: int = 0, threads: int = 2) -> dict:
    import torch

    from index.embedding.embedder import Embedder
    from service.config import Settings

    torch.set_num_threads(threads)
    settings = Settings()
    embedder = Embedder.from_config(settings.embedder_config(), threads=threads)
    if embedder._onnx is None:
        raise SystemExit("the ONNX backend is not available here")
    texts = corpus_texts(corpus, settings.chunk_tokens, settings.chunk_overlap_sentences)
    tok = embedder.tokenizer
    sets = {k: texts[k][:limit] if limit else texts[k] for k in ("chunks", "sentences")}
    wp = {k: sum(len(x) for x in tok(v, truncation=True, max_length=embedder.max_seq_length)["input_ids"])
          for k, v in sets.items()}
    res = {"corpus": str(corpus), "chunks": len(texts["chunks"]), "texts": {k: len(v) for k, v in sets.items()},
           "word_pieces": wp, "options": {}}
    with tempfile.TemporaryDirectory() as work:
        base = {}
        for name, enc in options(embedder, threads, Path(work)).items():
            row = {}
            for k, tx in sets.items():
                enc(tx[:32])  # warm
                t0 = time.perf_counter()
                v = enc(tx)
                secs = time.perf_counter() - t0
                base.setdefault(k, v)
                row[k] = {"s": round(secs, 2), "wp_per_s": round(wp[k] / secs),
                          "cos_min": round(float((v * base[k]).sum(axis=1).min()), 4)}
            res["options"][name] = row
            print(name, json.dumps(row), flush=True)
    # the one pass over windows, on the whole corpus (a chunk's overlap reaches into the window before)
    onnx = embedder._onnx
    t0 = time.perf_counter()
    states = [None] * len(texts["windows"])
    for idx, enc, hidden, _ in onnx._passes(texts["windows"], 16, offsets=True):
        for r, j in enumerate(idx):
            real = enc["attention_mask"][r] > 0
            states[j] = (hidden[r][real], enc["offset_mapping"][r][real])
    window_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    shipped = onnx.encode(texts["chunks"], 16)
    chunk_s = time.perf_counter() - t0
    cos = (pool_windows(states, texts["plans"]) * shipped).sum(axis=1)
    wwp = sum(len(x) for x in tok(texts["windows"])["input_ids"])
    res["one_pass_windows"] = {"windows": len(texts["windows"]), "word_pieces": wwp, "s": round(window_s, 2),
                               "chunk_pass_s": round(chunk_s, 2), "cos_mean": round(float(cos.mean()), 4),
                               "cos_p5": round(float(np.percentile(cos, 5)), 4), "cos_min": round(float(cos.min()), 4)}
    res["budget_s_at_80"] = round(len(texts["chunks"]) / 80, 2)
    return res


def main(argv: list[str] | None = None) -> None:
    from eval.bench import real_corpus
    from eval.bench.common import DEFAULT_OUT

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, help="a folder of articles (default: the ten real SQuAD articles)")
    p.add_argument("--limit", type=int, default=0, help="time the options on the first N texts of each kind")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = a.corpus or Path(tmp) / "real"
        if not a.corpus:
            real_corpus.write(corpus, 10)
        res = run(corpus, a.limit, a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "embed_passes.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res["one_pass_windows"]), f"budget at 80 chunks/s: {res['budget_s_at_80']} s")


if __name__ == "__main__":
    main()

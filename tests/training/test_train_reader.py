"""`citeqa train-reader` for real on a tiny SQuAD file: it trains, checkpoints, stops, resumes
where it stopped and leaves a reader that service/answerers/reader/model.py loads; and the shipped int8
model can be turned back into a trainable checkpoint (training/reader/from_onnx.py)."""
from __future__ import annotations

import copy
import gzip
import json

import pytest

from training.reader import train as train_reader
from service.answerers.reader.model import SHIPPED_DIR, ReaderModel

pytestmark = pytest.mark.slow


def _squad_file(tmp_path, article):
    # the split always holds out official (non-`sqexp`) articles and `--heldout-articles` more, so
    # the training articles are copies with recovered-style ids
    data = []
    for k in range(3):
        art = copy.deepcopy(article)
        art["title"] = f"Normandy_{k}"
        data.append(art)
    path = tmp_path / "train.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump({"data": data}, fh)
    return path


def _events(out):
    return [json.loads(line)["event"] for line in (out / "log.jsonl").read_text().splitlines()]


def test_train_reader_checkpoints_stops_and_resumes(tmp_path, normandy_article):
    out = tmp_path / "run"
    args = ["--train", str(_squad_file(tmp_path, normandy_article)), "--out", str(out), "--heldout-articles", "1",
            "--answerable", "4", "--other-paragraph", "1", "--answer-removed", "1", "--swapped", "1",
            "--batch-size", "2", "--max-length", "64", "--stride", "16", "--epochs", "3",
            "--log-every", "1", "--device", "cpu", "--threads", "1"]
    assert train_reader.main(args + ["--max-seconds", "0.001"]) == 0  # stops after its first step
    assert "stopped" in _events(out) and not (out / "final").exists()
    first = json.loads((out / "log.jsonl").read_text().splitlines()[-1])["step"]
    assert train_reader.main(args) == 0
    steps = [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()
             if json.loads(x)["event"] == "step"]
    assert steps[0] == 1 and steps[-1] > first and steps.count(first) == 1  # resumed, not restarted
    assert _events(out)[-1] == "done"
    model = ReaderModel(out / "final")
    assert model.backend == "torch" and model.run("When did the Normans settle?", ["They settled in 911."])
    assert json.loads((out / "heldout_articles.json").read_text())


def test_no_gpu_asked_for_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(train_reader.torch.cuda, "is_available", lambda: False)
    assert train_reader.pick_device("auto").type == "cpu"
    with pytest.raises(SystemExit, match="no GPU"):
        train_reader.pick_device("cuda")


def test_the_shipped_model_recovers_into_a_checkpoint_that_reads_alike(tmp_path):
    from training.reader.from_onnx import recover

    ckpt = recover(SHIPPED_DIR, tmp_path / "ckpt")
    passage = ("The Normans descended from Norse raiders who, under their leader Rollo, swore fealty to King "
               "Charles III of West Francia in 911. Normandy is a region in France.")
    shipped, recovered = ReaderModel(SHIPPED_DIR), ReaderModel(ckpt)
    assert recovered.backend == "torch"
    for q, answer in [("Who was the leader of the Norse raiders?", "Rollo"),
                      ("When did the Normans swear fealty?", "911"),
                      ("Where is Normandy?", "France")]:
        a, b = shipped.run(q, [passage])[0], recovered.run(q, [passage])[0]
        assert answer in passage[b.start:b.end] and passage[a.start:a.end] == passage[b.start:b.end]
        assert a.margin > 0 and b.margin > 0
    # a mis-mapped tensor (query for key, a weight not transposed) would not read at all: an
    # unrelated question keeps its no-answer preference in both
    off = "What is the boiling point of mercury?"
    assert shipped.run(off, [passage])[0].margin < 0 and recovered.run(off, [passage])[0].margin < 0


def _tiny_mpnet(base):
    """A 2-layer MPNet reader with MPNet's tokenizer inputs (no token types), saved to `base`."""
    from transformers import AutoTokenizer, MPNetConfig, MPNetForQuestionAnswering

    from training.reader.base_model import base_model_path

    tok = AutoTokenizer.from_pretrained(str(base_model_path()))
    tok.save_pretrained(base)
    conf = json.loads((base / "tokenizer_config.json").read_text())
    conf["model_input_names"] = ["input_ids", "attention_mask"]  # as MPNet's own tokenizer says
    (base / "tokenizer_config.json").write_text(json.dumps(conf))
    cfg = MPNetConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, pad_token_id=tok.pad_token_id)
    MPNetForQuestionAnswering(cfg).save_pretrained(base)
    return base


def test_an_int8_mpnet_reader_recovers_its_own_weights(tmp_path):
    """The 12-layer second stage is MPNet: its int8 graph names its tables (word and position
    embeddings, the relative attention bias) and projections differently from BERT's. Every weight of
    a tiny MPNet comes back from its int8 export under its own name, within its quantization step."""
    import numpy as np
    import torch
    from transformers import MPNetForQuestionAnswering

    from training.reader.export import export
    from training.reader.from_onnx import base_of, onnx_state_dict, recover

    base = _tiny_mpnet(tmp_path / "tiny-mpnet")
    model = MPNetForQuestionAnswering.from_pretrained(str(base))
    torch.manual_seed(0)
    with torch.no_grad():  # fresh biases and LayerNorms are all 0 or 1: a swapped one must show
        for t in model.parameters():
            t.add_(torch.randn_like(t) * 0.05)
    model.save_pretrained(base)
    onnx_dir = export(base, tmp_path / "onnx")
    assert base_of(onnx_state_dict(onnx_dir / "model.onnx")) == "mpnet"
    ckpt = recover(onnx_dir, tmp_path / "ckpt", base=str(base))
    want = MPNetForQuestionAnswering.from_pretrained(str(base)).state_dict()
    got = MPNetForQuestionAnswering.from_pretrained(str(ckpt)).state_dict()
    assert set(got) == set(want)
    assert "mpnet.encoder.relative_attention_bias.weight" in want
    for name, w in want.items():
        w, g = w.float().numpy(), got[name].float().numpy()
        # int8 per channel: half a step is at most max|w| / 254 of its channel (uint8 tables: / 255 of range)
        step = (np.abs(w).max() + 1e-12) / 100
        assert np.abs(w - g).max() <= step, name


def test_a_base_without_token_types_trains_exports_and_reads(tmp_path, normandy_article):
    """MPNet (`--base mpnet`, 12 layers) has no token types: its tokenizer gives none and its forward
    takes none. A tiny MPNet with such a tokenizer goes through train-reader, the int8 export and
    the service's reader, on both backends."""
    from transformers import AutoTokenizer

    from training.reader.export import export

    base = _tiny_mpnet(tmp_path / "tiny-mpnet")
    assert "token_type_ids" not in AutoTokenizer.from_pretrained(str(base))("q", "p")
    out = tmp_path / "run"
    args = ["--train", str(_squad_file(tmp_path, normandy_article)), "--out", str(out), "--heldout-articles", "1",
            "--base", str(base), "--answerable", "4", "--other-paragraph", "1", "--answer-removed", "1",
            "--swapped", "1", "--batch-size", "2", "--max-length", "64", "--stride", "16", "--device", "cpu",
            "--threads", "1", "--freeze-layers", "1"]
    assert train_reader.main(args) == 0 and _events(out)[-1] == "done"
    passage = "They settled in 911. Rollo was their first ruler."
    torch_spans = ReaderModel(out / "final").run("Who was the first ruler?", [passage])
    onnx_model = ReaderModel(export(out / "final", tmp_path / "onnx", int8=False))
    assert onnx_model.backend == "onnx" and onnx_model._inputs == {"input_ids", "attention_mask"}
    onnx_spans = onnx_model.run("Who was the first ruler?", [passage])
    assert torch_spans and onnx_spans  # the same weights read the same span on both backends
    assert (torch_spans[0].start, torch_spans[0].end) == (onnx_spans[0].start, onnx_spans[0].end)
    assert abs(torch_spans[0].margin - onnx_spans[0].margin) < 1e-3

"""training/reader/average.py: the mean of two readers' weights, refused when they do not match."""
from __future__ import annotations

import pytest
import torch

from training.reader.average import average, main, mean_state


def _tiny_bert(path, seed: int, hidden: int = 32):
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=64, hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=32)
    BertForQuestionAnswering(cfg).save_pretrained(path)
    return path


def test_the_average_is_the_mean_of_every_weight_and_loads_as_a_reader(tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering

    a, b = _tiny_bert(tmp_path / "a", 1), _tiny_bert(tmp_path / "b", 2)
    out = average(tmp_path / "soup", [a, b])
    sa, sb, so = (load_file(str(p / "model.safetensors")) for p in (a, b, out))
    assert so.keys() == sa.keys()
    for k in sa:
        if sa[k].is_floating_point():
            assert torch.allclose(so[k], (sa[k] + sb[k]) / 2, atol=1e-6), k
    assert any(not torch.equal(sa[k], sb[k]) for k in sa if sa[k].is_floating_point())  # two different models
    model = AutoModelForQuestionAnswering.from_pretrained(str(out))  # config copied: it loads as a reader
    assert model.config.hidden_size == 32


def test_checkpoints_that_do_not_match_are_refused(tmp_path):
    a, c = _tiny_bert(tmp_path / "a", 1), _tiny_bert(tmp_path / "c", 1, hidden=16)
    from safetensors.torch import load_file

    with pytest.raises(ValueError, match="shape"):
        mean_state([load_file(str(a / "model.safetensors")), load_file(str(c / "model.safetensors"))])
    with pytest.raises(ValueError, match="at least two"):
        mean_state([load_file(str(a / "model.safetensors"))])
    with pytest.raises(SystemExit) as exc:  # a folder without weights: a usage error, not a traceback
        main([str(tmp_path / "out"), str(a), str(tmp_path / "missing")])
    assert exc.value.code == 2

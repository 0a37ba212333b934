"""Recover a trainable reader checkpoint from the shipped int8 ONNX model.

The training checkpoints stay out of git (only the exported model ships), so a later round that
starts from the shipped reader (`citeqa train-reader --init DIR`) needs its weights back: each
int8 tensor is dequantized (`(q - zero_point) * scale`, per output channel as exported) and put
back under its transformers name; the fp32 tensors (biases, LayerNorms) are copied. The result
differs from the lost fp32 checkpoint by the quantization error only (the shipped model's own).

Both shipped readers recover: the MiniLM first stage (BERT names) and the 12-layer MPNet second stage
(`--model service/answerers/reader/second`; its graph keeps the word embeddings in `model.onnx.data`). The
architecture comes from the base the names point to (`bert.` MiniLM, `mpnet.` all-mpnet-base-v2), or `--base`.

`python -m training.reader.from_onnx [--model service/answerers/reader/model] [--base auto|minilm|mpnet|DIR] OUT`
"""
from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import numpy as np

# the MatMulInteger node's output names the module it computes, e.g.
# /m/bert/encoder/layer.0/attention/self/query/MatMul_output_0_output_quantized
_MATMUL_OUT = re.compile(r"^/m/(.+)/MatMul_output_0_output_quantized$")


def onnx_state_dict(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def dequant(base: str, axis: int) -> np.ndarray:
        q = init[base + "_quantized"].astype(np.float32)
        scale, zp = init[base + "_scale"].astype(np.float32), init[base + "_zero_point"].astype(np.float32)
        shape = [1] * q.ndim
        if scale.ndim:
            shape[axis] = -1
        return (q - zp.reshape(shape)) * scale.reshape(shape)

    state: dict[str, np.ndarray] = {}
    for name, value in init.items():
        if name.startswith("m.") and value.dtype == np.float32 and not name.endswith("_scale"):
            state[name[2:]] = value
        elif name.startswith("m.") and name.endswith(".weight_quantized"):
            # the tables read by Gather (word, position and token-type embeddings; MPNet's relative
            # attention bias) were quantized under their own names, one scale each (uint8)
            state[name[2:-len("_quantized")]] = dequant(name[: -len("_quantized")], 0)
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        m = _MATMUL_OUT.match(node.output[0])
        weight = node.input[1]
        if not m or not weight.endswith("_quantized"):
            continue
        module = m.group(1).replace("/", ".")
        # ONNX holds W^T ([in, out]), scales per output channel (axis 1); torch's Linear holds W
        state[f"{module}.weight"] = dequant(weight[: -len("_quantized")], 1).T.copy()
    return state


def base_of(state: dict) -> str:
    """The base a recovered state's names belong to (its architecture's config comes from there)."""
    prefixes = {k.split(".", 1)[0] for k in state}
    if "mpnet" in prefixes:
        return "mpnet"
    if "bert" in prefixes:
        return "minilm"
    raise ValueError(f"no known encoder in the ONNX weights' names: {sorted(prefixes)[:5]}")


def recover(model_dir: Path, out: Path, base: str = "auto") -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    from training.reader.export import TOKENIZER_FILES
    from training.reader.base_model import base_model_path

    arrays = onnx_state_dict(Path(model_dir) / "model.onnx")
    base = base_of(arrays) if base == "auto" else base
    # the architecture only: every weight comes from the ONNX file
    model = AutoModelForQuestionAnswering.from_config(AutoConfig.from_pretrained(str(base_model_path(base))))
    state = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    # load_state_dict refuses a tensor of the wrong shape itself; a name that maps nowhere, or a
    # weight the ONNX file did not give, is refused here (position_ids is a buffer, not a weight)
    missing, unknown = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unknown:
        raise ValueError(f"ONNX weights do not map onto the reader: missing {missing[:5]}, unknown {unknown[:5]}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    for name in TOKENIZER_FILES:
        if (Path(model_dir) / name).exists():
            shutil.copy2(Path(model_dir) / name, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    from service.answerers.reader.model import SHIPPED_DIR

    p = argparse.ArgumentParser(prog="python -m training.reader.from_onnx", description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--model", default=str(SHIPPED_DIR))
    p.add_argument("--base", default="auto", help="the architecture: auto (from the weights' names), minilm, "
                   "mpnet or a folder with its config.json")
    args = p.parse_args(argv)
    print(f"wrote {recover(Path(args.model), Path(args.out), args.base)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

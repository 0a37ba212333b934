"""Average the weights of reader checkpoints fine-tuned from the same start ("model soup").

Two rounds trained from one checkpoint on different draws of the data sit in one basin, so the
mean of their weights reads like an ensemble of the two at one model's cost (measured for rounds
11 and 12 of the first stage: the first stage's model card). Checkpoints of different shapes or
tensor names are refused, and integer tensors (position ids) are taken from the first.

`python -m training.reader.average OUT CKPT CKPT [CKPT ...]`
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from training.reader.export import TOKENIZER_FILES

WEIGHTS = "model.safetensors"
# what a checkpoint folder holds besides its weights (the tokenizer files export.py carries); copied from
# the first, so OUT exports like it
COMPANIONS = ("config.json", *TOKENIZER_FILES)


def mean_state(states: list[dict]) -> dict:
    """Pure: the element-wise mean of floating-point tensors, in their own dtype; other tensors from the first."""
    if len(states) < 2:
        raise ValueError("averaging needs at least two checkpoints")
    keys = states[0].keys()
    for s in states[1:]:
        if s.keys() != keys:
            raise ValueError(f"the checkpoints' tensors differ: {sorted(set(keys) ^ set(s.keys()))[:5]}")
    out = {}
    for k, t in states[0].items():
        if any(s[k].shape != t.shape for s in states[1:]):
            raise ValueError(f"tensor {k} differs in shape between the checkpoints")
        if t.is_floating_point():
            out[k] = (sum(s[k].float() for s in states) / len(states)).to(t.dtype)
        else:
            out[k] = t.clone()
    return out


def average(out: Path, checkpoints: list[Path]) -> Path:
    from safetensors.torch import load_file, save_file

    states = [load_file(str(Path(c) / WEIGHTS)) for c in checkpoints]
    merged = mean_state(states)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (WEIGHTS + ".tmp")
    save_file(merged, str(tmp), metadata={"format": "pt"})
    tmp.replace(out / WEIGHTS)  # never half a weights file under the real name
    for name in COMPANIONS:
        if (Path(checkpoints[0]) / name).exists():
            shutil.copy(Path(checkpoints[0]) / name, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.reader.average", description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("checkpoints", type=Path, nargs="+", help="checkpoint folders (model.safetensors, config.json)")
    args = p.parse_args(argv)
    try:
        average(args.out, args.checkpoints)
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    print(f"wrote {args.out} (mean of {len(args.checkpoints)} checkpoints)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

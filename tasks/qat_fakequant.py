"""Fake quantizers for QAT, bit-exact with subbit's TypeScript quantizers.

Each `quantize(w, cfg, sparsity)` returns (symbols, scales, zeros, w_hat) for a
2-D float32 weight, computed in float64 exactly as lib/quant/*.ts computes it
(same rounding rules, scales rounded to the stored dtype before assignment), so
the TypeScript quantizer given the same latent weights yields the same symbols
and stored scales (tests/qat_fixture_test.ts checks it on fixtures written by
`qat.py --fixtures`). Training uses w_hat through a straight-through estimator.

Config ids as in lib/sweep/grid.ts: method[.bB][.lL][.sS].gG.dtype, e.g.
sparse_klevel.l3.s0.9.g256.f16. `hqq` trains on its RTN grid (rtn_asym at the
same bits and groups); its final quantization is HQQ's own, in TypeScript.
"""
import math
import re

import torch

CONFIG_RE = re.compile(r"^([a-z0-9_]+)(?:\.b(\d+))?(?:\.l(\d+))?(?:\.s([0-9.]+))?\.g(\d+|row|tensor)\.([a-z0-9_]+)$")
SUPPORTED = ("ternary_absmean", "sparse_klevel", "rtn_sym", "rtn_asym", "hqq", "sign")
DTYPES = ("f16", "bf16")
ABSMEAN_EPS = 1e-8  # lib/quant/ternary_absmean.ts
LLOYD_ROUNDS = 20  # lib/quant/sparse_klevel.ts


class ConfigError(ValueError):
    pass


def parse_config(cid):
    m = CONFIG_RE.match(cid)
    if not m:
        raise ConfigError(f"bad config id '{cid}' (expected e.g. sparse_klevel.l3.s0.9.g256.f16)")
    method, bits, levels, sparsity, group, dtype = m.groups()
    if method not in SUPPORTED:
        raise ConfigError(f"config {cid}: QAT has no fake quantizer for '{method}' (one of {', '.join(SUPPORTED)})")
    if dtype not in DTYPES:
        raise ConfigError(f"config {cid}: QAT rounds scales to f16 or bf16 only, not '{dtype}'")
    c = {"id": cid, "method": method, "dtype": dtype,
         "group": group if group in ("row", "tensor") else int(group)}
    if method in ("rtn_sym", "rtn_asym", "hqq"):
        if bits is None or not 1 <= int(bits) <= 8:
            raise ConfigError(f"config {cid}: {method} needs bits 1..8")
        c["bits"] = int(bits)
    if method == "sparse_klevel":
        if levels is None or sparsity is None or int(levels) % 2 == 0 or int(levels) < 3:
            raise ConfigError(f"config {cid}: sparse_klevel needs odd levels ≥ 3 and a sparsity")
        c["levels"] = int(levels)
        c["sparsity"] = float(sparsity)
        if not 0 <= c["sparsity"] < 1:
            raise ConfigError(f"config {cid}: sparsity must be in [0, 1)")
    return c


def store(values64, dtype):
    """Float64 raw values → Float32Array (as TS stores them) → the scale dtype, back as float64."""
    v = values64.to(torch.float32)
    v = v.to(torch.float16) if dtype == "f16" else v.to(torch.bfloat16)
    out = v.to(torch.float64)
    if not torch.isfinite(out).all():
        raise ConfigError(f"a scale does not fit {dtype}")
    return out


def grouped(w, group):
    """[rows, cols] → list of (col_start, col_end, view [G, n]) covering W in TS group order per part."""
    rows, cols = w.shape
    if group == "tensor":
        return [(0, cols, w.reshape(1, -1))]
    g = cols if group == "row" else group
    full = (cols // g) * g
    parts = []
    if full:
        parts.append((0, full, w[:, :full].reshape(rows * (full // g), g)))
    if full < cols:
        parts.append((full, cols, w[:, full:].reshape(rows, cols - full)))
    return parts


def ungroup(parts, shape):
    rows, cols = shape
    out = torch.empty(shape, dtype=parts[0][2].dtype)
    for a, b, v in parts:
        out[:, a:b] = v.reshape(rows, b - a)
    return out


def round_half_away(x):
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def smallest_magnitude_mask(w32, zeros):
    """Exactly `zeros` True at the smallest |w|, ties broken by index (lib/quant/sparse_klevel.ts)."""
    flat = w32.reshape(-1).abs()
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    if zeros <= 0:
        return mask.reshape(w32.shape)
    t = torch.kthvalue(flat, zeros).values
    mask = flat < t
    need = zeros - int(mask.sum())
    ties = torch.nonzero(flat == t).reshape(-1)[:need]
    mask[ties] = True
    return mask.reshape(w32.shape)


def lloyd_scales(absw, nz, m):
    """Per-row Lloyd fit over the non-zero magnitudes (lib/quant/sparse_klevel.ts fitScale), float64."""
    n = nz.sum(-1).to(torch.float64)
    s = (absw * nz).sum(-1) / n.clamp(min=1)
    s = s * 2 / (m + 1)
    q_prev = torch.zeros_like(absw)
    active = n > 0
    for rnd in range(LLOYD_ROUNDS):
        r = torch.where(s[:, None] > 0, torch.floor(absw / s[:, None] + 0.5), torch.ones_like(absw))
        q = r.clamp(1, m) * nz
        changed = (q != q_prev).any(-1) | (rnd == 0)
        num = (absw * q).sum(-1)
        den = (q * q).sum(-1)
        s_new = num / den.clamp(min=1)
        upd = active & changed
        s = torch.where(upd, s_new, s)
        q_prev = torch.where(upd[:, None], q, q_prev)
        active = upd
        if not active.any():
            break
    return torch.where(n > 0, s, torch.zeros_like(s))


def quantize(w, c, sparsity=None):
    """Symbols (uint8, W's layout), stored scales, stored zeros or None, and Ŵ (float32)."""
    w32 = w.detach().to(torch.float32).cpu()
    rows, cols = w32.shape
    w64 = w32.to(torch.float64)
    method = "rtn_asym" if c["method"] == "hqq" else c["method"]
    parts = grouped(w64, c["group"])
    sym_parts, hat_parts, sc_parts, z_parts = [], [], [], []
    if method == "sparse_klevel":
        p = c["sparsity"] if sparsity is None else sparsity
        zero_all = smallest_magnitude_mask(w32, math.floor(p * w32.numel() + 0.5))
        zparts = grouped(zero_all, c["group"])
    for k, (a, b, v) in enumerate(parts):
        if method in ("ternary_absmean", "sign"):
            s = store(v.abs().sum(-1) / v.shape[1], c["dtype"])
            if method == "sign":
                sym = (v >= 0).to(torch.float64)
                hat = s[:, None] * 2 * (sym - 0.5)
            else:
                q = round_half_away(v * (1 / (s[:, None] + ABSMEAN_EPS))).clamp(-1, 1)
                sym, hat = q + 1, s[:, None] * q
        elif method == "sparse_klevel":
            m = (c["levels"] - 1) // 2
            nz = ~zparts[k][2]
            absw = v.abs() * nz
            s = store(lloyd_scales(absw, nz.to(torch.float64), m), c["dtype"])
            r = torch.where(s[:, None] > 0, round_half_away(v.abs() / s[:, None]), torch.ones_like(v))
            q = r.clamp(1, m) * torch.where(v < 0, -torch.ones_like(v), torch.ones_like(v)) * nz
            sym, hat = q + m, s[:, None] * q
        elif method == "rtn_sym":
            qmax = 1 if c["bits"] == 1 else 2 ** (c["bits"] - 1) - 1
            s = store(v.abs().amax(-1) / qmax, c["dtype"])
            if c["bits"] == 1:
                sym = (v >= 0).to(torch.float64)
                hat = s[:, None] * 2 * (sym - 0.5)
            else:
                safe = torch.where(s > 0, s, torch.ones_like(s))
                q = round_half_away(v * (1 / safe[:, None])).clamp(-qmax, qmax)
                q = torch.where(s[:, None] > 0, q, torch.full_like(q, 0.0))
                sym, hat = q + qmax, s[:, None] * q
        else:  # rtn_asym
            levels = 2 ** c["bits"]
            mn, mx = v.amin(-1), v.amax(-1)
            s = store((mx - mn) / (levels - 1), c["dtype"])
            z = store(mn, c["dtype"])
            safe = torch.where(s > 0, s, torch.ones_like(s))
            q = torch.floor((v - z[:, None]) * (1 / safe[:, None]) + 0.5).clamp(0, levels - 1)
            q = torch.where(s[:, None] > 0, q, torch.zeros_like(q))
            sym = q
            hat = z[:, None] + q * torch.where(s > 0, s, torch.zeros_like(s))[:, None]
            z_parts.append(z.reshape(rows, -1) if c["group"] != "tensor" else z.reshape(1, 1))
        sym_parts.append((a, b, sym))
        hat_parts.append((a, b, hat))
        sc_parts.append(s.reshape(rows, -1) if c["group"] != "tensor" else s.reshape(1, 1))
    symbols = ungroup(sym_parts, (rows, cols)).to(torch.uint8)
    w_hat = ungroup(hat_parts, (rows, cols)).to(torch.float32)
    scales = torch.cat(sc_parts, dim=1).reshape(-1)
    zeros = torch.cat(z_parts, dim=1).reshape(-1) if z_parts else None
    return symbols, scales, zeros, w_hat

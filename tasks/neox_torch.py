"""GPT-NeoX (Pythia) architecture in plain PyTorch, with Hugging Face parameter
names and layouts, plus the hand-written safetensors I/O and the held-out
bits-per-byte protocol shared by the training and evaluation tasks.

Only the training/reference tasks import this module; it is never a runtime
dependency of subbit (the TypeScript harness reads the same files itself).
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class NeoXLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        eps = cfg["layer_norm_eps"]
        self.input_layernorm = nn.LayerNorm(d, eps=eps)
        self.post_attention_layernorm = nn.LayerNorm(d, eps=eps)
        self.attention = nn.Module()
        self.attention.query_key_value = nn.Linear(d, 3 * d)
        self.attention.dense = nn.Linear(d, d)
        self.mlp = nn.Module()
        self.mlp.dense_h_to_4h = nn.Linear(d, cfg["intermediate_size"])
        self.mlp.dense_4h_to_h = nn.Linear(cfg["intermediate_size"], d)
        self.n_heads = cfg["num_attention_heads"]
        self.head_size = d // self.n_heads
        self.rot = int(self.head_size * cfg["rotary_pct"])
        self.parallel = cfg["use_parallel_residual"]

    def attn(self, x, cos, sin):
        b, t, d = x.shape
        qkv = self.attention.query_key_value(x)
        # HF GPT-NeoX layout: per head, [q_h | k_h | v_h] of head_size each.
        qkv = qkv.view(b, t, self.n_heads, 3 * self.head_size).transpose(1, 2)
        q, k, v = qkv.split(self.head_size, dim=-1)
        q = apply_rotary(q, cos, sin, self.rot)
        k = apply_rotary(k, cos, sin, self.rot)
        # torch 1.13 has no scaled_dot_product_attention: written out.
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_size)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.attention.dense(y)

    def mlp_fwd(self, x):
        return self.mlp.dense_4h_to_h(F.gelu(self.mlp.dense_h_to_4h(x)))

    def forward(self, x, cos, sin):
        a = self.attn(self.input_layernorm(x), cos, sin)
        if self.parallel:
            # x + attn(ln1(x)) + mlp(ln2(x))
            return x + a + self.mlp_fwd(self.post_attention_layernorm(x))
        x = x + a
        return x + self.mlp_fwd(self.post_attention_layernorm(x))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x, cos, sin, rot):
    """Rotary on the first `rot` dims of each head (HF NeoX, non-interleaved)."""
    xr, xp = x[..., :rot], x[..., rot:]
    return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)


def rotary_tables(cfg, t, device=None):
    head = cfg["hidden_size"] // cfg["num_attention_heads"]
    rot = int(head * cfg["rotary_pct"])
    inv = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
    freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(device), emb.sin().to(device)


class GPTNeoX(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.gpt_neox = nn.Module()
        self.gpt_neox.embed_in = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.gpt_neox.layers = nn.ModuleList([NeoXLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.gpt_neox.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.embed_out = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, idx):
        t = idx.shape[1]
        cos, sin = rotary_tables(self.cfg, t, idx.device)
        x = self.gpt_neox.embed_in(idx)
        for layer in self.gpt_neox.layers:
            x = layer(x, cos, sin)
        return self.embed_out(self.gpt_neox.final_layer_norm(x))


def write_safetensors(path, tensors, metadata=None):
    """safetensors: u64 LE header length, JSON header, raw LE tensor bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        arr = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4")
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)  # pad so data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{name}: only F32 supported here"
        a, b = info["data_offsets"]
        arr = np.frombuffer(buf[base + a:base + b], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def heldout_bpb(model, data, context, max_bytes=None, batch=16):
    """Held-out bits-per-byte: `data` cut into consecutive non-overlapping
    windows of `context` bytes (the last may be shorter); every byte after the
    first of each window is predicted; total CE in bits / predicted bytes."""
    if max_bytes is not None:
        data = data[:max_bytes]
    windows = [data[i:i + context] for i in range(0, len(data), context)]
    windows = [w for w in windows if len(w) >= 2]
    total_bits = 0.0
    predicted = 0
    model.eval()
    with torch.no_grad():
        full = [w for w in windows if len(w) == context]
        rest = [w for w in windows if len(w) != context]
        groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[w] for w in rest]
        for g in groups:
            x = torch.tensor([list(w) for w in g], dtype=torch.long)
            logits = model(x[:, :-1]).float()
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum")
            total_bits += ce.item() / math.log(2)
            predicted += x[:, 1:].numel()
    return total_bits / predicted, predicted

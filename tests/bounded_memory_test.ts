/**
 * Bounded memory: a sweep streams layers from disk, so its peak RSS follows the largest tensor, not the model.
 * The model is generated here: the tensor names and shapes of Pythia-1B (GPT-NeoX, 16 layers, hidden 2048,
 * vocab 50304 — 1.01 B parameters, 4.05 GB of f32), filled with seeded random data.
 */
import { strict as assert } from "node:assert";
import { mulberry32 } from "../lib/random.ts";
import { readRowRecords } from "../lib/results/frame.ts";

const H = 2048, FF = 8192, LAYERS = 16, VOCAB = 50304;

function pythia1bTensors(): { name: string; shape: number[] }[] {
  const t = [{ name: "gpt_neox.embed_in.weight", shape: [VOCAB, H] }];
  for (let i = 0; i < LAYERS; i++) {
    const p = `gpt_neox.layers.${i}.`;
    t.push(
      { name: `${p}input_layernorm.weight`, shape: [H] },
      { name: `${p}input_layernorm.bias`, shape: [H] },
      { name: `${p}post_attention_layernorm.weight`, shape: [H] },
      { name: `${p}post_attention_layernorm.bias`, shape: [H] },
      { name: `${p}attention.query_key_value.weight`, shape: [3 * H, H] },
      { name: `${p}attention.query_key_value.bias`, shape: [3 * H] },
      { name: `${p}attention.dense.weight`, shape: [H, H] },
      { name: `${p}attention.dense.bias`, shape: [H] },
      { name: `${p}mlp.dense_h_to_4h.weight`, shape: [FF, H] },
      { name: `${p}mlp.dense_h_to_4h.bias`, shape: [FF] },
      { name: `${p}mlp.dense_4h_to_h.weight`, shape: [H, FF] },
      { name: `${p}mlp.dense_4h_to_h.bias`, shape: [H] },
    );
  }
  t.push({ name: "gpt_neox.final_layer_norm.weight", shape: [H] }, {
    name: "gpt_neox.final_layer_norm.bias",
    shape: [H],
  });
  t.push({ name: "embed_out.weight", shape: [VOCAB, H] });
  return t;
}

/** Pythia-1B's config.json (the architecture the tensors above belong to). */
export const PYTHIA_1B_CONFIG = {
  architectures: ["GPTNeoXForCausalLM"],
  hidden_size: H,
  num_hidden_layers: LAYERS,
  num_attention_heads: 8,
  intermediate_size: FF,
  rotary_pct: 0.25,
  rotary_emb_base: 10000,
  max_position_embeddings: 2048,
  vocab_size: VOCAB,
  use_parallel_residual: true,
  layer_norm_eps: 1e-5,
  hidden_act: "gelu",
};

/** Write the safetensors file streaming: header, then each tensor from a 4 MiB block of seeded N(0, 0.02)-ish data. */
export async function writePythia1b(path: string): Promise<number> {
  const tensors = pythia1bTensors();
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [off, off + 4 * n] };
    off += 4 * n;
  }
  const h = new TextEncoder().encode(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8));
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  await f.write(len);
  await f.write(h);
  const rand = mulberry32(5);
  const block = Float32Array.from({ length: 1 << 20 }, () => (rand() + rand() + rand() - 1.5) * 0.03);
  const bytes = new Uint8Array(block.buffer);
  let left = off;
  while (left > 0) {
    const n = Math.min(left, bytes.length);
    let w = 0;
    while (w < n) w += await f.write(bytes.subarray(w, n));
    left -= n;
  }
  f.close();
  return 8 + h.length + off;
}

/** Sweep the model with `extra` flags; the run's manifest and rows. */
async function sweep(model: string, out: string, extra: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/sweep.ts", "--model", model, "--layers", "gpt_neox.layers.15.mlp.*,embed_out.weight"]
      .concat(["--methods", "ternary_absmean", "--group-sizes", "128", "--scale-dtypes", "f16"])
      .concat(["--no-kernels", "--no-coding", "--quiet", "--out", out], extra),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return {
    manifest: JSON.parse(await Deno.readTextFile(`${out}/manifest.json`)),
    rows: readRowRecords(`${out}/rows.parquet`),
  };
}

Deno.test("bounded memory: sweeping a 4 GB Pythia-1B-shaped model peaks far below the model's size", async () => {
  const dir = await Deno.makeTempDir();
  const model = `${dir}/pythia-1b`;
  await Deno.mkdir(model);
  const size = await writePythia1b(`${model}/model.safetensors`);
  await Deno.writeTextFile(`${model}/config.json`, JSON.stringify(PYTHIA_1B_CONFIG));
  const text = await Deno.readFile("models/neox-tiny/val.txt");
  await Deno.writeFile(`${model}/calib.txt`, text.subarray(0, 1024));
  await Deno.writeFile(`${model}/val.txt`, text.subarray(1024, 2048));
  const largest = VOCAB * H * 4; // embed_out: 412 MB
  /** Peak RSS under `times` × the largest tensor and half the model. */
  const bounded = (peak: number, times: number, what: string) => {
    assert.ok(peak > 0);
    assert.ok(
      peak < times * largest && peak < size / 2,
      `${what}: peak RSS ${peak} bytes for a ${size}-byte model whose largest tensor is ${largest} bytes`,
    );
    console.error(`bounded memory, ${what}: peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB, model ${size} bytes`);
  };
  try {
    assert.ok(size > 4e9, `${size} bytes`);
    const plain = await sweep(model, `${dir}/plain`, ["--no-calib"]);
    bounded(plain.manifest.peak_rss_bytes, 4, "weights only");
    // calibration and Δbpb run the forward pass, streamed one block at a time (128 bytes: a short pass)
    const effects = await sweep(model, `${dir}/effects`, ["--calib-bytes", "128", "--eval", "--eval-bytes", "128"]);
    // the unembedding's row holds W, Ŵ and Ŵᵀ (for its Δbpb logits) at once: one tensor more than weights only
    bounded(effects.manifest.peak_rss_bytes, 5, "out_rel_error + delta_bpb");
    assert.equal(effects.rows.length, 3);
    for (const r of effects.rows) {
      assert.ok(
        Number.isFinite(r.out_rel_error) && Number.isFinite(r.delta_bpb),
        `${r.layer}: ${r.out_rel_error} ${r.delta_bpb}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The model card of a QAT run (README.md beside model.subbit): every figure measured by subbit's own code. */
import type { StoredTensorStats } from "../pack/pack.ts";

export interface CardEval {
  label: string;
  bitsPerParam: number;
  /** bpb on the first `evalBytes` (64 KB by default) of the held-out text. */
  bpb64k: number;
  /** bpb on all of it, when measured. */
  bpbAll?: number;
}

export interface QatCardData {
  title: string;
  command: string;
  /** qat_log.json as written by tasks/qat.py. */
  log: {
    steps: number;
    train_seconds: number;
    seed: number;
    torch: string;
    cpu: string;
    threads: number;
    sparsity_schedule: string;
    args: Record<string, unknown>;
  };
  tensors: StoredTensorStats[];
  fileBytes: number;
  sha256: string;
  params: number;
  textBytes: number;
  /** Bytes of the quick evaluation (the "first 64 KB" column). */
  evalBytes: number;
  evals: CardEval[];
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** Level distribution as fractions, most negative level first (e.g. 5.0/90.0/5.0). */
function levels(t: StoredTensorStats): string {
  if (!t.level_counts) return "f32";
  return t.level_counts.map((c) => (100 * c / t.params).toFixed(1)).join("/");
}

export function renderQatCard(d: QatCardData): string {
  const fp32 = d.evals.find((e) => e.label.startsWith("fp32"));
  const ratio = (e: CardEval, k: "bpb64k" | "bpbAll") =>
    fp32 && e[k] !== undefined && fp32[k] !== undefined ? `${(e[k]! / fp32[k]!).toFixed(4)}×` : "—";
  const a = d.log.args;
  const quantized = d.tensors.filter((t) => t.level_counts);
  const lines = [
    `# ${d.title}`,
    "",
    "A quantization-aware-trained GPT-NeoX, stored as one `.subbit` file: every tensor (norms and biases as f32",
    "records) with true sizes. Trained by `deno task qat` (PyTorch, straight-through fake quantization bit-exact",
    "with subbit's quantizers); quantized, packed and evaluated by subbit's own TypeScript code.",
    "",
    "## File",
    `- \`model.subbit\`: ${d.fileBytes} bytes, sha256 \`${d.sha256}\``,
    `- ${d.params} parameters: **${(8 * d.fileBytes / d.params).toFixed(4)} bits/param** over the whole file`,
    "  (file bytes × 8 / params: coded symbols, scales, headers, CRCs, f32 norms and biases).",
    `- \`plan.json\`: the config of each 2-D weight; \`config.json\`: the GPT-NeoX config.`,
    "",
    "## Held-out bits per byte",
    `Reference protocol (non-overlapping ${256}-byte windows of \`val.txt\`, every byte after the first predicted),`,
    "`deno task eval --subbit` for this model; the same plan without QAT is the fp32 model quantized by the same",
    `configs (post-training). All of \`val.txt\` is ${d.textBytes} bytes.`,
    "",
    `| model | bits/param | first ${
      d.evalBytes === 65536 ? "64 KB" : `${d.evalBytes} bytes`
    } | × fp32 | all of val.txt | × fp32 |`,
    "|---|---|---|---|---|---|",
    ...d.evals.map((e) =>
      `| ${e.label} | ${e.bitsPerParam.toFixed(4)} | ${e.bpb64k.toFixed(5)} | ${ratio(e, "bpb64k")} | ${
        e.bpbAll?.toFixed(5) ?? "—"
      } | ${ratio(e, "bpbAll")} |`
    ),
    "",
    "## Recipe",
    `- Command: \`${d.command}\``,
    `- ${d.log.steps} steps of batch ${a.batch} × 256 bytes from the reference model's training split, AdamW lr ${a.lr}`,
    "  (betas 0.9/0.95, no weight decay, warm-up then cosine to 10 %), grad clip 1.0, bf16 autocast; loss =",
    `  cross-entropy + ${a.distill} · KL(fp32 teacher ‖ student) at temperature 1.`,
    `- Sparsity: zeros grow from 0 to each sparse_klevel tensor's target over the first ${a.sparsity_ramp} of training`,
    `  (${d.log.sparsity_schedule}${
      d.log.sparsity_schedule === "cubic" ? ": s·(1 − (1 − t/T)³)" : ""
    }), the mask recomputed from the latent weights every step.`,
    `- Seed ${d.log.seed}; wall time ${d.log.train_seconds} s on ${d.log.cpu} (${d.log.threads} threads), torch ${d.log.torch}.`,
    "",
    "## Per tensor",
    `${quantized.length} quantized tensors; levels are the fraction of weights at each level, most negative first.`,
    "",
    "| tensor | config | shape | bits/param | zeros | levels (%) |",
    "|---|---|---|---|---|---|",
    ...quantized.map((t) =>
      `| \`${t.name}\` | \`${t.config_id}\` | ${t.shape.join("×")} | ${t.bits_per_param.toFixed(4)} | ${
        pct(t.zero_fraction)
      } | ${levels(t)} |`
    ),
    "",
  ];
  const f32 = d.tensors.filter((t) => !t.level_counts);
  const f32Bytes = f32.reduce((s, t) => s + t.record_bytes, 0), f32Params = f32.reduce((s, t) => s + t.params, 0);
  lines.push(
    `The other ${f32.length} tensors (norms and biases, ${f32Params} params) are f32 records: ${f32Bytes} bytes.`,
    "",
  );
  return lines.join("\n");
}

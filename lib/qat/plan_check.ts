/** What QAT can fake-quantize (tasks/qat_fakequant.py), checked before any training starts. */
import { InputError } from "../errors.ts";
import type { QuantConfig } from "../quant/types.ts";

/** Methods with a PyTorch fake quantizer; hqq trains on its RTN grid and is quantized by HQQ at pack time. */
export const QAT_METHODS: readonly string[] = [
  "ternary_absmean",
  "sparse_klevel",
  "rtn_sym",
  "rtn_asym",
  "hqq",
  "sign",
];
export const QAT_SCALE_DTYPES: readonly string[] = ["f16", "bf16"];

/** Every planned config trainable, else an InputError naming the tensor. */
export function checkQatPlan(plan: Map<string, QuantConfig>): void {
  if (!plan.size) throw new InputError("the plan quantizes no tensor");
  for (const [name, c] of plan) {
    if (c.transforms?.length) {
      throw new InputError(`${name}: +${c.transforms.join("+")} is post-training; QAT trains plain configs`);
    }
    if (!QAT_METHODS.includes(c.method)) {
      throw new InputError(`${name}: QAT has no fake quantizer for ${c.method} (one of ${QAT_METHODS.join(", ")})`);
    }
    if (!QAT_SCALE_DTYPES.includes(c.scaleDtype)) {
      throw new InputError(`${name}: QAT rounds scales to f16 or bf16 only, not ${c.scaleDtype}`);
    }
  }
}

/**
 * A GPT-NeoX model with a quantization plan, as a llama.cpp GGUF that holds
 * exactly the values subbit measured. A config is exported only to a ggml
 * type whose grid is the config's grid (codes and f16 scales copied, never
 * re-rounded), and every encoded tensor is decoded again and compared with Ŵ
 * bit for bit before it is written:
 *
 *   rtn_sym.b8.g32.f16          → Q8_0   (codes −127..127, d = s)
 *   rtn_sym.b4.g32.f16          → Q4_0   (codes −7..7 stored as code + 8, d = s)
 *   ternary_absmean.g256.f16    → TQ2_0 or TQ1_0 (--ternary-type; d = γ)
 *   f32 / f16 / bf16 (storage)  → F32 / F16 / BF16
 *
 * `+gptq` keeps a config's grid, so it exports too; `+had`, `+awq` and
 * `+lr<r>` store Ŵ in another basis or with a correction no ggml type holds.
 * Any other config is refused naming the nearest exact one, or stored as F16
 * of Ŵ with fallback "f16" (named in the file's `subbit.fallback_f16`).
 */
import { InputError } from "../errors.ts";
import type { NeoxConfig } from "../model/neox.ts";
import type { HessianSource } from "../quant/transforms.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";
import { configId } from "../quant/config_id.ts";
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../tensor/dtype.ts";
import {
  blockBytes,
  decodeBlocks,
  encodeBlocks,
  GGML_BLOCK_TYPES,
  type GgmlBlockType,
  type GgmlBlockTypeName,
} from "../tensor/ggml_blocks.ts";
import { hfToGgufName, isQkv, permuteRows, qkvRowOrder } from "../tensor/gguf_neox.ts";
import type { ModelSource } from "../tensor/model.ts";
import type { Weights } from "../model/neox.ts";
import type { GgufTensorOut, GgufValue } from "./gguf_write.ts";
import { neoxGgufMetadata } from "./neox_gguf.ts";

export type TernaryType = "tq2_0" | "tq1_0";
export const TERNARY_TYPES: readonly TernaryType[] = ["tq2_0", "tq1_0"];
/** Unquantized storage a plan may name instead of a config id. */
export type DenseStorage = "f32" | "f16" | "bf16";
export const DENSE_STORAGE: readonly DenseStorage[] = ["f32", "f16", "bf16"];
export type ExportChoice = QuantConfig | DenseStorage;

export interface ExportOptions {
  ternaryType: TernaryType;
  /** Store configs with no exact ggml type as F16 of Ŵ instead of refusing. */
  fallback?: "f16";
}

const DENSE_IDS: Record<DenseStorage, number> = { f32: 0, f16: 1, bf16: 30 };

/** The ggml block type holding a config's values exactly, or null. */
export function exactGgmlType(c: QuantConfig, ternaryType: TernaryType): GgmlBlockTypeName | null {
  if ((c.transforms ?? []).some((t) => t !== "gptq") || c.scaleDtype !== "f16") return null;
  if (c.method === "rtn_sym" && c.groupSize === 32 && c.bits === 8) return "Q8_0";
  if (c.method === "rtn_sym" && c.groupSize === 32 && c.bits === 4) return "Q4_0";
  if (c.method === "ternary_absmean" && c.groupSize === 256) return ternaryType === "tq1_0" ? "TQ1_0" : "TQ2_0";
  return null;
}

/** The exact-exportable config nearest a config: the same or more bits per weight. */
export function nearestExactConfig(c: QuantConfig): string {
  const gptq = c.transforms?.includes("gptq") ? "+gptq" : "";
  const ternaryLike = c.method === "ternary_absmean" || c.method === "sparse_klevel" || c.method === "sign" ||
    (c.bits !== undefined && c.bits <= 2);
  if (ternaryLike) return `ternary_absmean.g256.f16${gptq}`;
  return `rtn_sym.b${(c.bits ?? 8) <= 4 ? 4 : 8}.g32.f16${gptq}`;
}

export function describeChoice(c: ExportChoice): string {
  return typeof c === "string" ? c : configId(c);
}

interface Planned {
  hfName: string;
  ggufName: string;
  shape: number[];
  /** ggml type name as GGUF tools print it. */
  typeName: string;
  typeId: number;
  byteLength: number;
  choice: ExportChoice;
  fallback: boolean;
}

export interface ExportPlan {
  tensors: Planned[];
  metadata: Record<string, GgufValue>;
}

/** Decide every tensor's ggml type (no quantization yet); refuse inexact configs unless fallback. */
export function planExport(
  src: ModelSource,
  neox: NeoxConfig,
  plan: Map<string, ExportChoice>,
  opts: ExportOptions,
  extraMetadata: Record<string, GgufValue> = {},
): ExportPlan {
  const tensors: Planned[] = [];
  const problems: string[] = [];
  for (const info of src.tensors) {
    const ggufName = hfToGgufName(info.name);
    if (!ggufName) {
      if (plan.has(info.name)) throw new InputError(`${info.name} is not a tensor llama.cpp's gptneox reads`);
      continue;
    }
    const count = info.shape.reduce((a, b) => a * b, 1);
    const choice: ExportChoice = plan.get(info.name) ?? "f32";
    const dense = (d: DenseStorage, fallback = false): Planned => ({
      hfName: info.name,
      ggufName,
      shape: info.shape,
      typeName: d.toUpperCase(),
      typeId: DENSE_IDS[d],
      byteLength: count * (d === "f32" ? 4 : 2),
      choice,
      fallback,
    });
    if (typeof choice === "string") {
      tensors.push(dense(choice));
      continue;
    }
    const exact = exactGgmlType(choice, opts.ternaryType);
    const t = exact ? GGML_BLOCK_TYPES[exact] : null;
    const cols = info.shape[info.shape.length - 1];
    if (t && cols % t.blockSize === 0) {
      tensors.push({
        hfName: info.name,
        ggufName,
        shape: info.shape,
        typeName: t.name,
        typeId: t.id,
        byteLength: blockBytes(t, count),
        choice,
        fallback: false,
      });
    } else if (opts.fallback === "f16") {
      tensors.push(dense("f16", true));
    } else {
      const why = t ? `its ${cols} columns are not whole ${t.name} blocks of ${t.blockSize}` : "no ggml type holds it";
      problems.push(`${info.name}: ${configId(choice)} (${why}; nearest exact: ${nearestExactConfig(choice)})`);
    }
  }
  if (problems.length) {
    throw new InputError(
      `no exact GGUF type for ${problems.length} tensor(s) — ${problems[0]}${
        problems.length > 1 ? ` and ${problems.length - 1} more` : ""
      }; export the nearest exact config, or pass --fallback f16 to store Ŵ as F16`,
    );
  }
  const fallbacks = tensors.filter((t) => t.fallback).map((t) => t.hfName);
  const metadata: Record<string, GgufValue> = {
    ...neoxGgufMetadata(neox, String(src.path.split("/").pop())),
    "general.file_type": { type: "u32", value: 0 },
    ...extraMetadata,
    "subbit.configs": {
      type: "string[]",
      value: tensors.map((t) => `${t.hfName}=${describeChoice(t.choice)}:${t.typeName}`),
    },
    "subbit.fallback_f16": { type: "string[]", value: fallbacks },
  };
  return { tensors, metadata };
}

/** Little-endian bytes of dense values in a storage dtype. */
function denseBytes(w: Float32Array, d: DenseStorage): Uint8Array {
  if (d === "f32") return new Uint8Array(w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength));
  const out = new Uint16Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = d === "f16" ? f32ToF16Bits(w[i]) : f32ToBf16Bits(w[i]);
  return new Uint8Array(out.buffer);
}

/** Codes and f16 scale bits of a quantized tensor whose groups are the type's blocks. */
function codesAndScales(
  name: string,
  q: ReturnType<typeof quantizeWeight>,
  t: GgmlBlockType,
): { codes: Int8Array; scales: Uint16Array } {
  const rec = q.reconstruction;
  if (rec.kind !== "scaled" || rec.unit !== 1 || q.post) {
    throw new Error(`${name}: internal: ${t.name} export needs a scaled reconstruction without transforms`);
  }
  const codes = Int8Array.from(q.symbols, (s) => s - rec.center);
  const scales = Uint16Array.from(q.meta.scales, (s) => f32ToF16Bits(s));
  scales.forEach((h, g) => {
    if (f16BitsToF32(h) !== q.meta.scales[g]) throw new Error(`${name}: internal: scale ${g} is not an f16 value`);
  });
  return { codes, scales };
}

/** The GGUF tensors of an export plan; each quantizes (and checks itself) when the writer asks for its bytes. */
export function exportTensors(
  exp: ExportPlan,
  weights: Weights,
  neox: NeoxConfig,
  hessians: HessianSource | null,
): GgufTensorOut[] {
  const heads = neox.num_attention_heads, headDim = neox.hidden_size / heads;
  return exp.tensors.map((p) => ({
    name: p.ggufName,
    shape: p.shape,
    type: p.typeId,
    byteLength: p.byteLength,
    bytes(): Uint8Array {
      const w = weights.get(p.hfName)!;
      const cols = p.shape.length === 2 ? p.shape[1] : 1;
      const order = isQkv(p.hfName) ? qkvRowOrder(heads, headDim) : null;
      const reorder = <A extends Float32Array | Int8Array | Uint16Array>(a: A, width: number): A =>
        order ? permuteRows(a, width, order) : a;
      if (typeof p.choice === "string") return denseBytes(reorder(w, cols), p.choice);
      const [rows] = p.shape;
      const q = quantizeWeight({ name: p.hfName, rows, cols, data: w }, p.choice, hessians);
      const wHat = reorder(q.dequantize(), cols);
      if (p.fallback) return denseBytes(wHat, "f16");
      const t = GGML_BLOCK_TYPES[p.typeName as GgmlBlockTypeName];
      const { codes, scales } = codesAndScales(p.hfName, q, t);
      const bytes = encodeBlocks(t, reorder(codes, cols), reorder(scales, cols / t.blockSize));
      const back = decodeBlocks(t, bytes, wHat.length);
      for (let i = 0; i < back.length; i++) {
        if (!Object.is(back[i], wHat[i]) && !(back[i] === 0 && wHat[i] === 0)) {
          throw new Error(`${p.hfName}: internal: ${t.name} value ${i} is ${back[i]}, subbit measured ${wHat[i]}`);
        }
      }
      return bytes;
    },
  }));
}

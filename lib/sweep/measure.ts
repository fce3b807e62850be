/** Quantize one layer with one config and measure it into a row. */
import { entropyPerSymbol, histogram, packedBitsPerSymbol } from "../metrics/entropy.ts";
import { errorMetrics } from "../metrics/error.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig, Quantized, WeightMatrix } from "../quant/types.ts";
import { encodeQuantized, serializeRecord } from "../pack/record.ts";
import type { LatencyTable } from "./latency.ts";
import type { ModelEffects } from "./model_effects.ts";
import type { ActivationMode } from "../model/neox.ts";
import type { Row } from "../results/schema.ts";
import { layerKind } from "../tensor/select.ts";
import { configId } from "../quant/config_id.ts";

export interface RowContext {
  runId: string;
  model: string;
  seed: number;
  /** Symbol coders to try (default all); null = no coding, bits_per_param from packed bits. */
  coders?: string[] | null;
  /** Kernel timings; absent = no kernel columns. */
  latency?: LatencyTable;
  /** Output error on calibration inputs and Δbpb; absent = nulls. */
  effects?: ModelEffects;
  /** Measure Δbpb (slow: one evaluation per row). */
  evalDelta?: boolean;
  /** The activations Δbpb's forward pass uses (recorded in the row). */
  activations?: ActivationMode;
}

/** One row; the layer's stage must be prepared on `ctx.effects` (ModelEffects.prepare). */
export async function measureLayer(w: WeightMatrix, config: QuantConfig, ctx: RowContext): Promise<Row> {
  const t0 = performance.now();
  const quant = quantizeWeight(w, config, ctx.effects?.hessians);
  const quantMs = performance.now() - t0;
  const wq = quant.dequantize();
  const err = errorMetrics(w.data, wq);
  const hist = histogram(quant.symbols, quant.levels);
  const params = w.rows * w.cols;
  const packedBits = params * packedBitsPerSymbol(quant.levels);
  const entropyBits = params * entropyPerSymbol(hist);
  const coded = ctx.coders === null ? null : codeLayer(w, config, quant, ctx.coders);
  const lat = ctx.latency?.measure(w, config, quant);
  const outRelError = ctx.effects?.outRelError(w.name, w.data, wq, w.rows, w.cols) ?? null;
  const deltaBpb = ctx.evalDelta ? await ctx.effects?.deltaBpb(w.name, wq) ?? null : null;
  return {
    run_id: ctx.runId,
    config_id: configId(config),
    model: ctx.model,
    layer: w.name,
    layer_kind: layerKind(w.name),
    rows: w.rows,
    cols: w.cols,
    params,
    method: config.method,
    bits: config.bits ?? null,
    levels: quant.levels,
    sparsity_target: config.sparsity ?? null,
    sparsity: err.zeroFraction,
    group_size: String(config.groupSize),
    scale_dtype: config.scaleDtype,
    packed_bits: packedBits,
    entropy_bits: entropyBits,
    meta_bits: quant.meta.metaBits,
    bits_basis: coded ? "coded" : "packed",
    bits_per_param: coded ? coded.coded_bits / params : (packedBits + quant.meta.metaBits) / params,
    rel_error: err.relError,
    sqnr_db: err.sqnrDb,
    cosine: err.cosine,
    level_hist: Array.from(hist),
    quant_ms: quantMs,
    coded_bits: coded?.coded_bits ?? null,
    coded_payload_bits: coded?.coded_payload_bits ?? null,
    coded_meta_bits: coded?.coded_meta_bits ?? null,
    header_bits: coded?.header_bits ?? null,
    coder: coded?.coder ?? null,
    meta_coder: coded?.meta_coder ?? null,
    static_o0_bits: coded?.static_o0_bits ?? null,
    code_ms: coded?.code_ms ?? null,
    out_rel_error: outRelError,
    delta_bpb: deltaBpb,
    kernel: lat?.kernel ?? null,
    gemv_us: lat?.gemv_us ?? null,
    seed: ctx.seed,
    rotated: quant.post?.rotation !== undefined,
    low_rank_bits: quant.post?.lowRank ? 8 * quant.post.lowRank.bytes.length : null,
    activations: ctx.activations ?? "fp32",
  };
}

/** Code the layer exactly as `deno task pack` would store it and count the record's bits. */
function codeLayer(w: WeightMatrix, config: QuantConfig, quant: Quantized, coders?: string[]) {
  const t0 = performance.now();
  const enc = encodeQuantized(w.name, w.rows, w.cols, quant, {
    configId: configId(config),
    groupSize: config.groupSize,
    scaleDtype: config.scaleDtype,
  }, coders);
  const { sizes } = serializeRecord(enc.record);
  return {
    coded_bits: 8 * sizes.total,
    coded_payload_bits: 8 * sizes.payload,
    coded_meta_bits: 8 * sizes.meta,
    header_bits: 8 * sizes.header,
    coder: enc.record.descriptor.kind === "quantized" ? enc.record.descriptor.coder : null,
    meta_coder: enc.record.descriptor.kind === "quantized" ? enc.record.descriptor.meta_coder : null,
    static_o0_bits: enc.coderSizes.static_o0 !== undefined ? 8 * enc.coderSizes.static_o0 : null,
    code_ms: performance.now() - t0,
  };
}

/** Quantize one layer with one config and measure it into a row. */
import { entropyPerSymbol, histogram, packedBitsPerSymbol } from "../metrics/entropy.ts";
import { errorMetrics } from "../metrics/error.ts";
import { getQuantizer } from "../quant/mod.ts";
import type { QuantConfig, WeightMatrix } from "../quant/types.ts";
import type { Row } from "../results/schema.ts";
import { layerKind } from "../tensor/select.ts";
import { configId } from "./grid.ts";

export interface RowContext {
  runId: string;
  model: string;
  seed: number;
}

export function measureLayer(w: WeightMatrix, config: QuantConfig, ctx: RowContext): Row {
  const q = getQuantizer(config.method);
  const t0 = performance.now();
  const quant = q.quantize(w, config);
  const quantMs = performance.now() - t0;
  const wq = quant.dequantize();
  const err = errorMetrics(w.data, wq);
  const hist = histogram(quant.symbols, quant.levels);
  const params = w.rows * w.cols;
  const packedBits = params * packedBitsPerSymbol(quant.levels);
  const entropyBits = params * entropyPerSymbol(hist);
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
    bits_basis: "packed",
    bits_per_param: (packedBits + quant.meta.metaBits) / params,
    rel_error: err.relError,
    sqnr_db: err.sqnrDb,
    cosine: err.cosine,
    level_hist: Array.from(hist),
    quant_ms: quantMs,
    seed: ctx.seed,
  };
}

/**
 * subbit's public API: what notebooks and users' scripts import, from this one
 * module rather than deep paths. Names exported here are kept stable; the
 * modules behind them may move.
 *
 *   import { openModel, parseConfigId, measureLayer, runSweep, evaluateBpb, allocate, makePlots } from "./lib/mod.ts";
 */

// models and tensors: open a model folder/file, select and name its layers
export { openModel } from "./tensor/model.ts";
export type { ModelSource } from "./tensor/model.ts";
export { compareLayers, layerKind, selectLayers, shortLayerName } from "./tensor/select.ts";

// config ids and grids
export { expandGrid, GRIDS, loadGrid } from "./sweep/grid.ts";
export { configId, parseConfigId } from "./quant/config_id.ts";
export type { QuantConfig, Quantized, WeightMatrix } from "./quant/types.ts";
export { quantizeWeight } from "./quant/transforms.ts";

// measuring: one layer, or a whole sweep into a run folder
export { measureLayer } from "./sweep/measure.ts";
export { runSweep } from "./sweep/run.ts";
export { summarizeByKind, summaryCsv } from "./sweep/summary.ts";
export type { Criterion, KindSummary } from "./sweep/summary.ts";
export type { Row } from "./results/schema.ts";
export { readRowRecords, readRows, rowsToFrame } from "./results/frame.ts";
export { compareRuns } from "./results/compare.ts";

// the GPT-NeoX model: forward pass, held-out bits per byte, plans
export { NeoxForward, parseNeoxConfig, readAllWeights } from "./model/neox.ts";
export { evaluateBpb, heldoutBpb } from "./model/bpb.ts";
export { nativeOps, tsOps } from "./model/ops.ts";
export { applyPlan, readPlan, resolvePlan, uniformPlan } from "./model/plan.ts";

// bit allocation
export { allocate, measureSensitivity } from "./allocate/allocate.ts";

// kernels
export { ensureNative } from "./kernels/native.ts";
export { cGemv, tsGemv } from "./kernels/gemv.ts";
export { kernelCodes } from "./sweep/kernel_codes.ts";
export { KERNELS } from "./kernels/formats.ts";
export { WEBGPU_KERNELS, WebGpuRunner } from "./kernels/webgpu.ts";

// charts and reports
export {
  budgetChart,
  compareChart,
  heatmapChart,
  kernelLatencyChart,
  levelHistogramChart,
  paretoChart,
} from "./plot/specs.ts";
export type { Chart } from "./plot/specs.ts";
export { showChart, showFrame } from "./plot/notebook.ts";
export { makePlots } from "./plot/run_report.ts";
export { makeComparison } from "./plot/compare_report.ts";

// seeded randomness
export { mulberry32, seededGaussian } from "./random.ts";

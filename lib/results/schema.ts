/**
 * The row schema: one row per (layer, config). Columns are snake_case,
 * documented here and in the README, extended, never renamed.
 */
export type ColumnType = "str" | "i64" | "f64" | "bool" | "list_i64";

export interface Column {
  name: string;
  type: ColumnType;
  nullable?: boolean;
  doc: string;
}

export const ROW_COLUMNS: readonly Column[] = [
  { name: "run_id", type: "str", doc: "the run folder's id" },
  {
    name: "config_id",
    type: "str",
    doc: "stable id of the quantization config, e.g. `rtn_asym.b4.g64.f16` (same across runs)",
  },
  { name: "model", type: "str", doc: "model path as given" },
  { name: "layer", type: "str", doc: "tensor name" },
  { name: "layer_kind", type: "str", doc: "embed, attn_qkv, attn_out, mlp_up, mlp_down, lm_head or other" },
  { name: "rows", type: "i64", doc: "output dimension (shape[0])" },
  { name: "cols", type: "i64", doc: "input dimension (shape[1]); groups run along it" },
  { name: "params", type: "i64", doc: "rows × cols" },
  { name: "method", type: "str", doc: "method id (`rtn_asym`, `ternary_absmean`, …)" },
  { name: "bits", type: "i64", nullable: true, doc: "bit width for methods that take one, else null" },
  { name: "levels", type: "i64", doc: "number of quantization levels (symbol alphabet size)" },
  {
    name: "sparsity_target",
    type: "f64",
    nullable: true,
    doc: "requested zero fraction for forced-sparsity methods, else null",
  },
  { name: "sparsity", type: "f64", doc: "realised fraction of exact zeros in Ŵ" },
  { name: "group_size", type: "str", doc: "elements per group along the input dimension: a number, `row` or `tensor`" },
  { name: "scale_dtype", type: "str", doc: "storage of scales/zeros: f16, bf16, fp8_e4m3, q8g128" },
  { name: "packed_bits", type: "i64", doc: "fixed-width payload: params × ceil(log2(levels))" },
  { name: "entropy_bits", type: "f64", doc: "order-0 entropy bound of the symbols: params × H(level histogram)" },
  {
    name: "meta_bits",
    type: "i64",
    doc: "exact stored size of scales + zeros (and their own metadata) + low-rank factors (`+lr<r>`)",
  },
  {
    name: "bits_basis",
    type: "str",
    doc: "what `bits_per_param` counts: `coded` (the tensor's whole .subbit record) or `packed` (with --no-coding)",
  },
  {
    name: "bits_per_param",
    type: "f64",
    doc: "coded: coded_bits / params; packed: (packed_bits + meta_bits) / params",
  },
  { name: "rel_error", type: "f64", doc: "‖W − Ŵ‖F / ‖W‖F" },
  { name: "sqnr_db", type: "f64", doc: "10·log10(‖W‖² / ‖W − Ŵ‖²)" },
  { name: "cosine", type: "f64", doc: "cosine similarity of W and Ŵ" },
  { name: "level_hist", type: "list_i64", doc: "count of each level 0..levels−1" },
  { name: "quant_ms", type: "f64", doc: "wall time to quantize this layer (ms)" },
  {
    name: "coded_bits",
    type: "i64",
    nullable: true,
    doc:
      "the tensor's whole .subbit record: coded payload + coded metadata + per-tensor header (null with --no-coding)",
  },
  { name: "coded_payload_bits", type: "i64", nullable: true, doc: "entropy-coded symbol stream" },
  {
    name: "coded_meta_bits",
    type: "i64",
    nullable: true,
    doc: "metadata stream as stored (coded or raw, see meta_coder)",
  },
  { name: "header_bits", type: "i64", nullable: true, doc: "per-tensor framing: descriptor JSON, lengths, CRC-32" },
  {
    name: "coder",
    type: "str",
    nullable: true,
    doc: "symbol model that won (the smallest of --coders): static_o0, adaptive_o0, order1_row, above, above2, …",
  },
  { name: "meta_coder", type: "str", nullable: true, doc: "`raw`, or the coder that shrank the metadata" },
  {
    name: "static_o0_bits",
    type: "i64",
    nullable: true,
    doc: "payload under the static order-0 model, to read the context models' gain against",
  },
  { name: "code_ms", type: "f64", nullable: true, doc: "wall time to code this layer with every model tried (ms)" },
  {
    name: "out_rel_error",
    type: "f64",
    nullable: true,
    doc:
      "‖X·Wᵀ − X·Ŵᵀ‖F / ‖X·Wᵀ‖F on calibration inputs X (the model's calib.txt; null for embeddings or non-NeoX models)",
  },
  {
    name: "delta_bpb",
    type: "f64",
    nullable: true,
    doc: "held-out bits/byte with only this layer quantized, minus fp32's (with --eval; else null)",
  },
  {
    name: "kernel",
    type: "str",
    nullable: true,
    doc:
      "the kernel of this row's own format, fed the row's own codes: uint_b (2–4- and 8-bit rtn_sym/rtn_asym/hqq; ternary and sign codes with group or tensor scales, 2 bits), klevel5 (5-level sparse_klevel, 3 bits), the fastest of ternary2/ternary_base3 (3-level codes, one scale a row; sparse_ternary also at ≥ 90% zeros), int8 (rtn_sym.b8.g64); null where no kernel stores the config (5–7 bits, groups that are not 32, 64k, row or tensor, +had/+awq/+lr) or with --no-kernels",
  },
  {
    name: "gemv_us",
    type: "f64",
    nullable: true,
    doc:
      "median µs of one GEMV of this layer's shape with that kernel (batch 1, 1 thread, cache-resident); null with kernel",
  },
  { name: "seed", type: "i64", doc: "the run's seed" },
  {
    name: "rotated",
    type: "bool",
    doc:
      "true for `+had` configs: the codes are of W·Qᵀ, so a kernel over them needs rotated activations Q·x (no kernel does yet: kernel and gemv_us are null)",
  },
  {
    name: "low_rank_bits",
    type: "i64",
    nullable: true,
    doc: "stored bits of a `+lr<r>` correction's factors (included in meta_bits and bits_per_param); null without one",
  },
  {
    name: "activations",
    type: "str",
    doc: "how delta_bpb's forward pass fed the linear layers: fp32, or int8 per token (`--activations int8`)",
  },
];

export type Row = Record<string, string | number | boolean | number[] | null>;

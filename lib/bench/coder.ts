/**
 * Coder benchmark on a real model: per layer and config, the order-0 entropy,
 * our coded size (best model), zstd -19 and xz -9e sizes of the same symbols
 * packed 2 bits each (4 bits for > 4 levels), and decode/encode speeds of the
 * TypeScript and C static order-0 coders and of zstd, all measured in one run.
 * The C decoder writes into a reused buffer (c_decode_msym_s), as `zstd -b`
 * does for zstd; c_decode_alloc_msym_s allocates a fresh one per call;
 * c_decode_x2_msym_s is the two-stream interleaved decoder (static_o0_x2).
 */
import { codeBest } from "../coding/mod.ts";
import { staticOrder0C, staticOrder0Ts } from "../coding/static_order0.ts";
import { staticOrder0x2C } from "../coding/static_order0_x2.ts";
import { ensureNative } from "../kernels/native.ts";
import { entropyPerSymbol, histogram } from "../metrics/entropy.ts";
import { getQuantizer } from "../quant/mod.ts";
import { parseConfigId } from "../quant/config_id.ts";
import { openModel } from "../tensor/model.ts";
import { selectLayers } from "../tensor/select.ts";
import { packSymbols, xzSize, zstdDecodeMBs, zstdSize } from "./external.ts";
import { type BenchRecord, emit, table } from "./report.ts";

export const CODER_BENCH_CONFIGS = [
  "ternary_absmean.g64.f16",
  "sparse_klevel.l3.s0.9.g64.f16",
  "sparse_klevel.l5.s0.8.g64.f16",
];

/** Throughput in M symbols/s: repeat `fn` until at least `minMs` elapsed, take the best of 3 such rounds. */
function msymPerS(n: number, fn: () => void, minMs = 60): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let reps = 0;
    const t0 = performance.now();
    do {
      fn();
      reps++;
    } while (performance.now() - t0 < minMs);
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return n / best / 1e3;
}

export async function benchCoder(opts: { model: string; layers?: string; configs?: string[] }): Promise<BenchRecord[]> {
  const lib = await ensureNative();
  const src = await openModel(opts.model);
  const out: BenchRecord[] = [];
  for (const info of selectLayers(src.tensors, opts.layers)) {
    const t = await src.read(info.name);
    const w = { name: info.name, rows: info.shape[0], cols: info.shape[1], data: t.data };
    for (const id of opts.configs ?? CODER_BENCH_CONFIGS) {
      const config = parseConfigId(id);
      const q = getQuantizer(config.method).quantize(w, config);
      const n = q.symbols.length;
      const best = codeBest(q.symbols, q.levels, w.cols);
      const stream = staticOrder0Ts.encode(q.symbols, q.levels, w.cols);
      const packed = packSymbols(q.symbols, q.levels <= 4 ? 2 : 4);
      const symbolsPerByte = n / packed.length;
      const c = lib ? staticOrder0C(lib) : null, c2 = lib ? staticOrder0x2C(lib) : null;
      const stream2 = c2?.encode(q.symbols, q.levels, w.cols);
      const dest = new Uint8Array(n);
      const rec: BenchRecord = {
        layer: info.name,
        config_id: id,
        symbols: n,
        entropy_bits: entropyPerSymbol(histogram(q.symbols, q.levels)) * n,
        coded_bits: 8 * best.bytes.length,
        coder: best.coder,
        static_o0_bits: 8 * stream.length,
        zstd_bits: 8 * (await zstdSize(packed)),
        xz_bits: 8 * (await xzSize(packed)),
        ts_decode_msym_s: msymPerS(n, () => staticOrder0Ts.decode(stream, n, q.levels, w.cols)),
        // into a reused buffer, as zstd -b measures zstd; with a fresh buffer per call (page faults) beside it
        c_decode_msym_s: c ? msymPerS(n, () => c.decodeInto(stream, dest, q.levels)) : null,
        c_decode_alloc_msym_s: c ? msymPerS(n, () => c.decode(stream, n, q.levels, w.cols)) : null,
        zstd_decode_msym_s: (await zstdDecodeMBs(packed)) * symbolsPerByte,
        c_encode_msym_s: c ? msymPerS(n, () => c.encode(q.symbols, q.levels, w.cols)) : null,
        // static_o0_x2: the same table, two interleaved streams (decode speed for ~8 more bytes)
        static_o0_x2_bits: stream2 ? 8 * stream2.length : null,
        c_decode_x2_msym_s: c2 ? msymPerS(n, () => c2.decodeInto(stream2!, dest, q.levels)) : null,
      };
      const target = Number(rec.entropy_bits) * 1.001 + 64 * 8;
      rec.within_target = Number(rec.static_o0_bits) <= target;
      rec.x2_within_target = stream2 ? 8 * stream2.length <= target : null;
      emit(rec);
      out.push(rec);
    }
  }
  table(out, [
    "layer",
    "config_id",
    "entropy_bits",
    "coded_bits",
    "coder",
    "zstd_bits",
    "xz_bits",
    "ts_decode_msym_s",
    "c_decode_msym_s",
    "c_decode_x2_msym_s",
    "zstd_decode_msym_s",
    "c_encode_msym_s",
  ]);
  return out;
}

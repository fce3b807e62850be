/**
 * QAT hand-off: the TypeScript quantizers reproduce the training code's fake
 * quantization (tasks/qat_fakequant.py) for the same latent weights —
 * identical symbols, scales and zeros equal as stored. The fixtures were
 * written by `/usr/bin/python3 tasks/qat.py --fixtures tests/fixtures/qat`, so
 * this runs without PyTorch. `hqq` trains on its RTN grid: its cases are
 * checked against rtn_asym at the same bits and groups.
 */
import { strict as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { getQuantizer } from "../lib/quant/mod.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";

interface Fixture {
  matrices: { what: string; rows: number; cols: number; w: string }[];
  cases: {
    matrix: number;
    config_id: string;
    sparsity: number | null;
    symbols: string;
    scales: string;
    zeros: string | null;
  }[];
}

const fx: Fixture = JSON.parse(await Deno.readTextFile("tests/fixtures/qat/fakequant.json"));
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));
const f32 = (b64: string) => new Float32Array(bytes(b64).slice().buffer);

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

Deno.test("QAT fixtures cover every fake-quantized method on ragged, tied, zero and real weights", () => {
  const methods = new Set(fx.cases.map((c) => c.config_id.split(".")[0]));
  for (const m of ["ternary_absmean", "sparse_klevel", "rtn_sym", "rtn_asym", "hqq", "sign"]) {
    assert.ok(methods.has(m), m);
  }
  assert.ok(fx.matrices.some((m) => m.cols % 64 !== 0), "a row that groups of 64 do not divide");
  assert.ok(fx.cases.some((c) => c.sparsity !== null), "a mid-ramp sparsity");
});

for (const c of fx.cases) {
  const m = fx.matrices[c.matrix];
  Deno.test(`QAT fake-quant = TS quantizer: ${c.config_id}${c.sparsity !== null ? ` at ${c.sparsity}` : ""} on ${m.what}`, () => {
    const config = parseConfigId(c.config_id);
    if (c.sparsity !== null) config.sparsity = c.sparsity;
    if (config.method === "hqq") config.method = "rtn_asym";
    const w = { name: m.what, rows: m.rows, cols: m.cols, data: f32(m.w) };
    const q = getQuantizer(config.method).quantize(w, config);
    const sym = bytes(c.symbols);
    const ds = firstDiff(q.symbols, sym);
    assert.equal(ds, -1, `symbol ${ds} differs: TS ${q.symbols[ds]}, PyTorch ${sym[ds]}`);
    const sc = f32(c.scales);
    const dsc = firstDiff(q.meta.scales, sc);
    assert.equal(dsc, -1, `scale ${dsc} differs: TS ${q.meta.scales[dsc]}, PyTorch ${sc[dsc]}`);
    assert.equal(q.meta.zeros === undefined, c.zeros === null, "zero-points present in one only");
    if (c.zeros !== null) assert.equal(firstDiff(q.meta.zeros!, f32(c.zeros)), -1, "zero-points differ");
  });
}

import { strict as assert } from "node:assert";
import type { Row } from "../results/schema.ts";
import { defaultCriterion, parseCriterion, parseThreshold, summarizeByKind, summaryCsv } from "./summary.ts";

/** Two configs on two mlp_up layers and one embedding: b2 is cheap with low Δbpb but a high weight error. */
function rows(withDelta: boolean): Row[] {
  const r = (
    layer: string,
    kind: string,
    config: string,
    bits: number,
    rel: number,
    out: number | null,
    d: number,
  ) => ({
    layer,
    layer_kind: kind,
    config_id: config,
    bits_per_param: bits,
    params: 100,
    rel_error: rel,
    out_rel_error: out,
    delta_bpb: withDelta ? d : null,
  });
  return [
    r("L0.up", "mlp_up", "rtn_asym.b2", 2.5, 0.3, 0.2, 0.001),
    r("L1.up", "mlp_up", "rtn_asym.b2", 2.5, 0.3, 0.25, 0.002),
    r("L0.up", "mlp_up", "rtn_asym.b4", 4.5, 0.05, 0.04, 0.0001),
    r("L1.up", "mlp_up", "rtn_asym.b4", 4.5, 0.06, 0.05, 0.0002),
    r("emb", "embed", "rtn_asym.b2", 2.5, 0.3, null, 0.02),
    r("emb", "embed", "rtn_asym.b4", 4.5, 0.05, null, 0.001),
  ];
}

Deno.test("summary: ranks by delta_bpb when measured, else out_rel_error, else rel_error; says which", () => {
  const up = (s: ReturnType<typeof summarizeByKind>) => s.find((k) => k.layer_kind === "mlp_up")!;
  assert.equal(defaultCriterion(rows(true)), "delta_bpb");
  const byDelta = summarizeByKind(rows(true));
  assert.deepEqual([up(byDelta).criterion, up(byDelta).best_config], ["delta_bpb", "rtn_asym.b2"]);
  assert.equal(up(byDelta).max_value, 0.002);
  const byOut = summarizeByKind(rows(false));
  assert.deepEqual([up(byOut).criterion, up(byOut).best_config], ["out_rel_error", "rtn_asym.b4"]);
  // the embedding has no out_rel_error (no matmul reads it): ranked by rel_error, and the row says so
  const emb = byOut.find((k) => k.layer_kind === "embed")!;
  assert.deepEqual([emb.criterion, emb.best_config], ["rel_error", "rtn_asym.b4"]);
  // asked explicitly, with a threshold
  const strict = summarizeByKind(rows(true), { criterion: "delta_bpb", threshold: 0.0015 });
  assert.equal(up(strict).best_config, "rtn_asym.b4");
  const none = summarizeByKind(rows(true), { criterion: "rel_error", threshold: 0.01 });
  assert.equal(up(none).best_config, null);
  const csv = summaryCsv(byDelta).trim().split("\n");
  assert.equal(csv[0], "layer_kind,layers,criterion,threshold,best_config,bits_per_param,max_value");
  assert.equal(csv.length, 3);
  assert.match(csv[2], /^mlp_up,2,delta_bpb,0\.01,rtn_asym\.b2,2\.5,0\.002$/);
});

Deno.test("summary flags: unknown criterion and bad thresholds are refused", () => {
  assert.throws(() => parseCriterion("bpb"), /--criterion: 'bpb' is not one of delta_bpb, out_rel_error, rel_error/);
  assert.throws(() => parseThreshold(""), /--threshold/);
  assert.throws(() => parseThreshold("-1"), /--threshold/);
  assert.equal(parseThreshold("0.02"), 0.02);
  assert.equal(parseCriterion(undefined), undefined);
});

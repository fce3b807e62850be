/**
 * The fuzzer in CI (a short seeded run: no finding, and every target both reads and rejects inputs, so the
 * mutations reach past the first check), and the crashes it found, each kept as a regression case.
 */
import { strict as assert } from "node:assert";
import { crc32 } from "../lib/coding/crc32.ts";
import { packModel } from "../lib/pack/pack.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";
import { writeSafetensors } from "../lib/tensor/safetensors.ts";
import { seededGaussian } from "../lib/random.ts";
import { assertOneLine, runTask } from "./fixtures/cli.ts";

Deno.test("deno task fuzz: a short seeded run over every reader finds nothing, and reaches past the first check", async () => {
  const out = await Deno.makeTempDir();
  const r = await runTask("fuzz", "--iterations", "2000", "--seed", "3", "--json", "--quiet", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(rep.inputs, 2000);
  assert.deepEqual(rep.findings, []);
  for (const [name, t] of Object.entries(rep.targets) as [string, Record<string, number>][]) {
    assert.ok(t.accepted > 0 && t.rejected > 0, `${name}: ${JSON.stringify(t)}`);
  }
});

/** A packed .subbit whose header JSON is replaced, with its CRC fixed (as the fuzzer's fix-up does). */
async function withHeader(json: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/m.safetensors`, [{ name: "w", shape: [4, 64], data: seededGaussian(256, 1, 0.1) }]);
  await packModel({
    model: `${dir}/m.safetensors`,
    config: parseConfigId("ternary_absmean.g64.f16"),
    out: `${dir}/a.subbit`,
    quiet: true,
  });
  const b = await Deno.readFile(`${dir}/a.subbit`);
  const dv = new DataView(b.buffer);
  const n = dv.getUint32(8, true);
  const j = new TextEncoder().encode(json);
  const out = new Uint8Array(b.length - n + j.length);
  out.set(b.subarray(0, 12));
  new DataView(out.buffer).setUint32(8, j.length, true);
  out.set(j, 12);
  new DataView(out.buffer).setUint32(12 + j.length, crc32(j), true);
  out.set(b.subarray(12 + n + 4), 12 + j.length + 4);
  await Deno.writeFile(`${dir}/b.subbit`, out);
  return `${dir}/b.subbit`;
}

Deno.test("fuzz findings, fixed: a .subbit header that passes its CRC but is not well-formed JSON is one clear line", async () => {
  for (const [json, re] of [['{"tensors": [', /corrupt header JSON/], ["[1, 2]", /well-formed "tensors"/]] as const) {
    const f = await withHeader(json);
    assertOneLine(await runTask("unpack", f, "--out", `${f}.safetensors`), re, json);
  }
});

Deno.test("fuzz findings, fixed: record descriptors with bad kinds, shapes or fields are refused before use", async () => {
  const { parseRecordBody } = await import("../lib/pack/record.ts");
  const body = (d: unknown) => {
    const j = new TextEncoder().encode(JSON.stringify(d));
    const b = new Uint8Array(4 + j.length + 8);
    new DataView(b.buffer).setUint32(0, j.length, true);
    b.set(j, 4);
    return b;
  };
  const q = {
    kind: "quantized",
    name: "w",
    shape: [4, 64],
    config_id: "x",
    levels: 3,
    group_size: 64,
    scale_dtype: "f16",
    reconstruction: { kind: "scaled", center: 1, unit: 1 },
    coder: "static_o0",
    meta_coder: "raw",
    scale_bytes: 8,
    zero_bytes: 0,
  };
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ kind: "f32", name: "w", shape: [-512] }, /shape/],
    [{ kind: "f32", name: "w", shape: 7 }, /shape/],
    [{ kind: "f32", name: "w", shape: [2 ** 20, 2 ** 20] }, /too large/],
    [{ kind: "weird", name: "w", shape: [1] }, /kind/],
    [{ ...q, shape: [4] }, /2-D/],
    [{ ...q, reconstruction: undefined }, /reconstruction/],
    [{ ...q, levels: 300 }, /levels/],
    [{ ...q, group_size: 0 }, /group size/],
    [{ ...q, rotation: { kind: "hadamard", seed: -1, block: 4 } }, /rotation/],
  ];
  for (const [d, re] of cases) {
    const b = body(d);
    assert.throws(
      () => parseRecordBody(b, crc32(b), 0, "f"),
      (e: Error) => e.name === "InputError" && re.test(e.message),
    );
  }
  assert.doesNotThrow(() => parseRecordBody(body(q), crc32(body(q)), 0, "f"));
});

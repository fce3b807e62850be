import { strict as assert } from "node:assert";
import { writeTinyModel } from "../../tests/fixtures/tiny_model.ts";
import { InputError } from "../errors.ts";
import { getQuantizer } from "../quant/mod.ts";
import { parseConfigId } from "../quant/config_id.ts";
import { openModel } from "../tensor/model.ts";
import { mulberry32 } from "../random.ts";
import { packModel, unpackModel } from "./pack.ts";

const CONFIGS = [
  "ternary_absmean.g16.f16",
  "sparse_klevel.l3.s0.9.g8.f16",
  "sparse_klevel.l5.s0.8.grow.bf16",
  "rtn_asym.b3.g16.q8g128",
  "hqq.b2.g8.fp8_e4m3",
  "rtn_sym.b4.gtensor.f16",
  "sign.g32.bf16",
];

Deno.test("pack → unpack reproduces exactly the dequantized weights the quantizer produced (every method, every scale dtype)", async () => {
  const dir = await Deno.makeTempDir();
  const names2d = await writeTinyModel(`${dir}/m`);
  const src = await openModel(`${dir}/m`);
  for (const id of CONFIGS) {
    const config = parseConfigId(id);
    const file = `${dir}/${id}.subbit`;
    const s = await packModel({ model: `${dir}/m`, config, out: file, quiet: true });
    assert.equal(s.quantized, names2d.length);
    let seen = 0;
    for await (const t of unpackModel(file)) {
      const orig = await src.read(t.name);
      assert.deepEqual(t.shape, orig.shape);
      const want = names2d.includes(t.name)
        ? getQuantizer(config.method).quantize(
          { name: t.name, rows: t.shape[0], cols: t.shape[1], data: orig.data },
          config,
        ).dequantize()
        : orig.data;
      assert.ok(t.data.every((v, i) => Object.is(v, want[i])), `${id}: ${t.name} differs after the round trip`);
      seen++;
    }
    assert.equal(seen, src.tensors.length);
  }
});

Deno.test("container: truncated, bit-flipped or foreign files give a clear error naming the byte offset (and tensor)", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyModel(`${dir}/m`);
  const file = `${dir}/a.subbit`;
  await packModel({ model: `${dir}/m`, config: parseConfigId("ternary_absmean.g16.f16"), out: file, quiet: true });
  const good = await Deno.readFile(file);
  const drain = async (bytes: Uint8Array) => {
    const p = `${dir}/bad.subbit`;
    await Deno.writeFile(p, bytes);
    for await (const _ of unpackModel(p)) { /* decode everything */ }
  };
  await assert.rejects(
    () => drain(good.slice(0, good.length - 100)),
    (e: Error) => e instanceof InputError && /truncated/.test(e.message),
  );
  await assert.rejects(
    () => drain(good.slice(0, 10)),
    (e: Error) => e instanceof InputError && /not a \.subbit file|truncated/.test(e.message),
  );
  await assert.rejects(
    () => drain(new TextEncoder().encode("hello world, not subbit")),
    (e: Error) => e instanceof InputError && /bad magic/.test(e.message),
  );
  const r = mulberry32(2);
  let named = 0;
  for (let k = 0; k < 40; k++) {
    const bad = good.slice();
    const at = 16 + Math.floor(r() * (bad.length - 16));
    bad[at] ^= 1 << Math.floor(r() * 8);
    await assert.rejects(() => drain(bad), (e: Error) => {
      assert.ok(e instanceof InputError, `flip at ${at}: ${(e as Error).stack}`);
      assert.match(e.message, /byte \d+/);
      if (/tensor /.test(e.message)) named++;
      return true;
    });
  }
  assert.ok(named > 20, `most flips land in a payload and should name the tensor (${named}/40)`);
});

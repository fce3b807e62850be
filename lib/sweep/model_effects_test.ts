/**
 * The streamed model effects (one block in memory at a time) against the
 * in-memory forward pass: out_rel_error and Δbpb must be the same numbers.
 */
import { strict as assert } from "node:assert";
import { heldoutBpb } from "../model/bpb.ts";
import { Calibration } from "../model/calibration.ts";
import { type ActivationMode, NeoxForward, parseNeoxConfig, readAllWeights } from "../model/neox.ts";
import { nativeOps, tsOps } from "../model/ops.ts";
import { ensureNative } from "../kernels/native.ts";
import { openModel } from "../tensor/model.ts";
import { mulberry32 } from "../random.ts";
import { ModelEffects } from "./model_effects.ts";

const MODEL = "models/neox-tiny";

/** A perturbed copy of w (a stand-in for Ŵ). */
function perturbed(w: Float32Array, seed: number): Float32Array {
  const r = mulberry32(seed);
  return w.map((v) => v + (r() - 0.5) * 0.05);
}

for (const activations of ["fp32", "int8"] as ActivationMode[]) {
  Deno.test(`streamed model effects equal the in-memory forward pass (${activations} activations)`, async () => {
    const src = await openModel(MODEL);
    const text = await Deno.readFile(`${MODEL}/val.txt`);
    const calibText = text.subarray(0, 300), evalText = text.subarray(300, 500);
    const fx = (await ModelEffects.create(src, { calibText, evalText, activations }))!;
    assert.ok(fx);
    const config = parseNeoxConfig(src.config, MODEL);
    const weights = await readAllWeights(src);
    const lib = await ensureNative();
    const ops = lib ? nativeOps(lib) : tsOps;
    const calib = Calibration.capture(new NeoxForward(config, weights, ops), calibText, ops);
    const model = new NeoxForward(config, weights, ops, activations);
    const base = heldoutBpb(model, evalText).bpb;
    const last = config.num_hidden_layers - 1;
    // in forward order, then one behind (the streams restart from the embedding)
    const layers = [
      "gpt_neox.embed_in.weight",
      "gpt_neox.layers.0.attention.query_key_value.weight",
      `gpt_neox.layers.${last}.mlp.dense_4h_to_h.weight`,
      "embed_out.weight",
      "gpt_neox.layers.0.mlp.dense_h_to_4h.weight",
    ];
    for (const [i, name] of layers.entries()) {
      const info = src.tensors.find((t) => t.name === name)!;
      const [rows, cols] = info.shape;
      const w = weights.get(name)!, wq = perturbed(w, i + 1);
      await fx.prepare(name);
      const streamedOut = fx.outRelError(name, w, wq, rows, cols);
      const expectedOut = calib.outRelError(name, w, wq, rows, cols);
      assert.equal(streamedOut, expectedOut, `${name} out_rel_error`);
      const h = fx.hessians?.hessian(name, cols) ?? null, hRef = calib.hessian(name, cols);
      assert.deepEqual(h, hRef, `${name} Hessian`);
      model.setWeight(name, wq);
      const expectedDelta = heldoutBpb(model, evalText).bpb - base;
      model.setWeight(name, w);
      assert.equal(await fx.deltaBpb(name, wq), expectedDelta, `${name} delta_bpb`);
    }
    // a stage other than the prepared one is a caller bug, not a silent null
    await assert.rejects(() => fx.deltaBpb("embed_out.weight", weights.get("embed_out.weight")!));
    assert.throws(() => fx.hessians!.hessian("embed_out.weight", config.hidden_size));
  });
}

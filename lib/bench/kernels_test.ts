import { strict as assert } from "node:assert";
import { ensureNative } from "../kernels/native.ts";
import { benchKernels, pairedRatioQuartiles, peerSummary } from "./kernels.ts";

const lib = await ensureNative();

Deno.test({
  name: "bench kernels (C): a record per kernel, batch and thread count, medians over rounds × reps passes",
  ignore: !lib,
  async fn() {
    const kernels = ["fp32", "int8", "ternary2", "ternary_base3", "sparse_ternary"] as const;
    const out = await benchKernels({
      shapes: [[64, 512]],
      batches: [1, 8],
      threads: [1, 2],
      sparsities: [0.9],
      kernels: [...kernels],
      reps: 2,
      rounds: 2,
      backends: ["c"],
      peers: [],
    });
    const probes = out.filter((r) => r.kernel === "stream_sum");
    assert.deepEqual(probes.map((r) => r.threads), [1, 2]);
    for (const p of probes) {
      assert.ok(Number(p.bw_gbps) > 0);
      // the probes beside the passes: two buffers of 4 × the LLC, read in turn
      assert.equal(p.probe_buffers, 2);
      assert.equal(p.probe_bytes, 4 * Number(p.llc_bytes));
    }
    const rows = out.filter((r) => r.kernel !== "stream_sum");
    assert.equal(rows.length, kernels.length * 2 * 2);
    for (const r of rows) {
      const ms = Number(r.ms), gbps = Number(r.gbps), bw = Number(r.bw_gbps);
      assert.ok(ms > 0 && gbps > 0 && bw > 0, JSON.stringify(r));
      assert.ok(Math.abs(Number(r.bw_fraction) - gbps / bw) < 1e-12);
      assert.ok(Math.abs(gbps - Number(r.weight_bytes) / ms / 1e6) < 1e-9 * gbps);
      assert.equal(r.passes, 4);
      assert.equal(r.rows, 64);
      assert.equal(r.cols, 512);
      assert.equal(r.sparsity, r.kernel === "sparse_ternary" ? 0.9 : null);
      // 12.8 non-zeros a block: blocks for decode, columns for 8 tokens (prepared again for that batch)
      const layout = r.batch === 1 ? "blocks" : "columns";
      assert.equal(r.sparse_layout, r.kernel === "sparse_ternary" ? layout : null);
      if (r.kernel === "fp32") assert.equal(r.speedup_vs_fp32, 1);
    }
    for (const k of kernels) {
      for (const b of [1, 8]) {
        for (const t of [1, 2]) {
          assert.equal(
            rows.filter((r) => r.kernel === k && r.batch === b && r.threads === t).length,
            1,
            `${k} ${b} ${t}`,
          );
        }
      }
    }
  },
});

Deno.test({
  name: "bench kernels --peers ggml: ggml's kernel after each subbit kernel, vs_peer for every pair",
  ignore: !lib,
  async fn() {
    const out = await benchKernels({
      shapes: [[64, 512]],
      batches: [1, 3],
      threads: [1, 2],
      sparsities: [0.9],
      kernels: ["fp32", "int8", "ternary2", "ternary_base3", "sparse_ternary"],
      reps: 2,
      rounds: 2,
      backends: ["c"],
      peers: ["ggml"],
    });
    const rows = out.filter((r) => r.kernel !== "stream_sum");
    const pairs = { fp32: "f32", int8: "q8_0", ternary2: "tq2_0", ternary_base3: "tq1_0" } as Record<string, string>;
    for (const b of [1, 3]) {
      for (const t of [1, 2]) {
        const here = rows.filter((r) => r.batch === b && r.threads === t).map((r) => r.kernel);
        // each peer right after the subbit kernel it is measured beside
        assert.deepEqual(here, [
          "fp32",
          "f32",
          "int8",
          "q8_0",
          "q4_0",
          "ternary2",
          "tq2_0",
          "q2_K",
          "ternary_base3",
          "tq1_0",
          "sparse_ternary",
        ]);
        for (const [ours, theirs] of Object.entries(pairs)) {
          const a = rows.find((r) => r.kernel === ours && r.batch === b && r.threads === t)!;
          const p = rows.find((r) => r.kernel === theirs && r.batch === b && r.threads === t)!;
          assert.equal(a.peer_kernel, theirs);
          assert.ok(Math.abs(Number(a.vs_peer) - Number(p.ms) / Number(a.ms)) < 1e-12, `${ours} vs ${theirs}`);
          // the quartiles of the paired passes, in order
          assert.ok(Number(a.vs_peer_q1) > 0 && Number(a.vs_peer_q1) <= Number(a.vs_peer_q3), JSON.stringify(a));
          assert.equal(p.peer, "ggml");
          assert.equal(p.peer_of, ours);
          assert.match(String(p.ggml_version), /^\d+\.\d+/);
          assert.ok(String(p.ggml_variant).length > 0);
          assert.ok(Number(p.act_ms) >= 0 && Number(p.act_ms) < Number(p.ms), JSON.stringify(p));
          assert.equal(p.passes, 4);
        }
      }
    }
    assert.ok(
      rows.filter((r) => r.kernel === "sparse_ternary").every((r) => r.vs_peer === null && r.vs_peer_q1 === null),
    );
  },
});

Deno.test("deno task bench kernels: a bad --batches, --threads or --shapes is an error naming it, before any output", async () => {
  for (
    const [flag, value, message] of [
      ["--batches", "1,17", "--batches: '17' is not an integer in 1…16"],
      ["--threads", "0", "--threads: '0' is not an integer in 1…64"],
      ["--shapes", "4096x", "--shapes: '4096x' is not ROWSxCOLS"],
      ["--peers", "onnx", "--peers: 'onnx' is not a known peer (ggml)"],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../tasks/bench.ts", import.meta.url).pathname, "kernels", flag, value],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.notEqual(out.code, 0, `${flag} ${value} exited 0`);
    assert.ok(new TextDecoder().decode(out.stderr).includes(message), new TextDecoder().decode(out.stderr));
    assert.equal(out.stdout.length, 0, "nothing written before the flags are checked");
  }
});

Deno.test("peerSummary: the pairs subbit won and the lowest vs_peer; null without peers", () => {
  const row = (kernel: string, vs: number | null, peer: string | null = null, q1: number | null = vs) => ({
    kernel,
    rows: 4096,
    cols: 11008,
    batch: 1,
    threads: 2,
    peer,
    vs_peer: vs,
    vs_peer_q1: q1,
  });
  assert.equal(peerSummary([row("fp32", null)]), null);
  assert.equal(
    peerSummary([row("fp32", 0.86), row("int8", 1.24), row("q8_0", null, "ggml"), row("ternary2", 1.7, null, 0.99)]),
    "vs ggml: subbit faster in 2 of 3 pairs (1 with vs_peer_q1 > 1: faster in three passes of four); " +
      "lowest vs_peer: fp32 4096×11008, batch 1, 2 thread(s), 0.86×",
  );
});

Deno.test("pairedRatioQuartiles: peer/own pass by pass, quartiles at ⌊n/4⌋ and ⌊3n/4⌋ of the sorted ratios", () => {
  // ratios 2, 0.5, 1, 4 (pass by pass) sort to 0.5, 1, 2, 4: q1 = 1, q3 = 4
  assert.deepEqual(pairedRatioQuartiles([2, 1, 3, 8], [1, 2, 3, 2]), { q1: 1, q3: 4 });
  // a constant ratio is both quartiles
  const own = [1.0, 1.2, 0.9, 1.1, 1.05], peer = own.map((ms) => 1.25 * ms);
  const { q1, q3 } = pairedRatioQuartiles(peer, own);
  assert.ok(Math.abs(q1 - 1.25) < 1e-12 && Math.abs(q3 - 1.25) < 1e-12);
  // an extra pass on one side (not paired) is left out
  assert.deepEqual(pairedRatioQuartiles([1, 1], [1, 1, 100]), { q1: 1, q3: 1 });
});

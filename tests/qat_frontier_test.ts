/** qat:frontier over the published QAT points and allocator runs: one frame, one chart, one fp32 point. */
import { strict as assert } from "node:assert";
import { assertOneLine, runTask } from "./fixtures/cli.ts";

const PUB = "results/published";

Deno.test("qat:frontier: QAT, same-plan PTQ and each allocator run as series; the chart renders; bad --qat exits 2", async () => {
  const out = await Deno.makeTempDir();
  const r = await runTask(
    "qat_frontier",
    ...["--qat", `1=${PUB}/qat-frontier/qat-1.0,1.5=${PUB}/qat-frontier/qat-1.5`],
    ...["--allocate", `${PUB}/allocate-kl,${PUB}/allocate-transforms`, "--out", out],
  );
  assert.equal(r.code, 0, r.stderr);
  const rows = (await Deno.readTextFile(`${out}/frontier.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
  const series = new Set(rows.map((p) => p.series));
  for (const s of ["QAT", "PTQ, same plan", "PTQ, allocator (allocate-kl)", "PTQ, allocator (allocate-transforms)"]) {
    assert.ok(series.has(s), `series ${s}`);
  }
  assert.equal(rows.filter((p) => p.series === "fp32").length, 1);
  const qat = rows.filter((p) => p.series === "QAT");
  assert.deepEqual(qat.map((p) => p.budget), [1, 1.5]);
  for (const p of qat) assert.ok(p.bits_per_param <= p.budget && p.bpb < 1.9, JSON.stringify(p));
  const png = await Deno.readFile(`${out}/plots/qat_frontier.png`);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.match(await Deno.readTextFile(`${out}/plots/qat_frontier.svg`), /<svg/);
  assertOneLine(await runTask("qat_frontier", "--qat", "x", "--out", out), /'x' is not BUDGET=DIR/, "bad --qat");
});

/**
 * The shipped QAT models: each file is what its card says (sha256, size), meets
 * the limits (bytes, bits/param, MLP sparsity, held-out bpb against the
 * fp32 model's 1.9303 on all of val.txt), and `eval --subbit` on the first 64 KB
 * reproduces the card's figure.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { describeContainer } from "../lib/pack/pack.ts";
import { lastJson, runTask } from "./fixtures/cli.ts";

const FP32_ALL = 1.9303;
const MODELS = [
  { dir: "models/neox-tiny-qat", maxBytes: 1_000_000, maxBitsPerParam: 1.5, maxRatio: 1.05 },
  { dir: "models/neox-tiny-qat-1bit", maxBytes: Infinity, maxBitsPerParam: 1.0, maxRatio: 1.15 },
];

interface Card {
  bytes: number;
  sha256: string;
  bpb64k: number;
  bpbAll: number;
}

function parseCard(md: string, dir: string): Card {
  const file = md.match(/`model\.subbit`: (\d+) bytes, sha256 `([0-9a-f]{64})`/);
  const row = md.match(/^\| QAT \(this model[^|]*\| [\d.]+ \| ([\d.]+) \| [^|]+ \| ([\d.]+) \|/m);
  assert.ok(file && row, `${dir}/README.md: no file line or QAT row`);
  return { bytes: Number(file[1]), sha256: file[2], bpb64k: Number(row[1]), bpbAll: Number(row[2]) };
}

for (const m of MODELS) {
  Deno.test(`${m.dir}: the file its card describes, within the QAT issue's limits`, async () => {
    const card = parseCard(await Deno.readTextFile(`${m.dir}/README.md`), m.dir);
    const bytes = await Deno.readFile(`${m.dir}/model.subbit`);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), card.sha256, "sha256 as on the card");
    assert.equal(bytes.length, card.bytes);
    assert.ok(bytes.length < m.maxBytes, `${bytes.length} bytes`);
    const tensors = await describeContainer(`${m.dir}/model.subbit`);
    const params = tensors.reduce((s, t) => s + t.params, 0);
    assert.equal(params, 4870144, "every tensor of neox-tiny, norms and biases included");
    assert.ok((8 * bytes.length) / params <= m.maxBitsPerParam, `${(8 * bytes.length) / params} bits/param`);
    const mlp = tensors.filter((t) => /\.mlp\..*\.weight$/.test(t.name));
    assert.equal(mlp.length, 12);
    for (const t of mlp) {
      assert.equal(t.level_counts?.length, 3, `${t.name}: three levels`);
      assert.ok(t.zero_fraction >= 0.895, `${t.name}: ${t.zero_fraction} zeros`);
    }
    assert.ok(card.bpbAll <= m.maxRatio * FP32_ALL, `all of val.txt: ${card.bpbAll} > ${m.maxRatio} × ${FP32_ALL}`);
    const plan = JSON.parse(await Deno.readTextFile(`${m.dir}/plan.json`)).layers as Record<string, string>;
    for (const t of tensors) assert.equal(t.config_id, plan[t.name] ?? "f32", `${t.name}: stored as planned`);
  });

  Deno.test(`${m.dir}: eval --subbit on the first 64 KB reproduces the card`, async () => {
    const card = parseCard(await Deno.readTextFile(`${m.dir}/README.md`), m.dir);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "tasks/eval.ts",
        "--subbit",
        `${m.dir}/model.subbit`,
        "--text",
        "models/neox-tiny/val.txt",
        "--json",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.ok(Math.abs(r.bpb - card.bpb64k) < 6e-6, `eval ${r.bpb} vs card ${card.bpb64k}`);
    // without --text: the container holds the default model's config, so its val.txt is the default text
    const plain = await runTask("eval", "--subbit", `${m.dir}/model.subbit`, "--bytes", "600", "--json");
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(lastJson(plain).bytes, 600);
  });
}

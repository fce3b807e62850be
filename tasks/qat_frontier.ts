/** deno task qat:frontier — the QAT-vs-PTQ frontier (budget → bpb) from qat and allocate runs, with its chart. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { htmlReport } from "../lib/plot/report.ts";
import { svgToPng, toSvg } from "../lib/plot/render.ts";
import { frontierChart } from "../lib/plot/specs.ts";
import { allocatorPoints, type FrontierPoint, mergeFrontier, qatPoints } from "../lib/qat/frontier.ts";

const HELP = `deno task qat:frontier --qat BUDGET=DIR[,BUDGET=DIR…] [--allocate DIR[,DIR…]] --out DIR

Collect held-out bpb against whole-file bits/param for QAT runs (each DIR a
'deno task qat' --out folder: the QAT model and the same plan without QAT) and
an allocator run (its post-training plans), all measured on the same first
64 KB, into OUT/frontier.jsonl, OUT/plots/qat_frontier.{svg,png} and
OUT/plots/index.html.

  --qat LIST      budget=folder pairs, e.g. 1.5=/tmp/qat15,1=/tmp/qat10
  --allocate DIRS 'allocate --out' folders (allocate.jsonl), comma-separated: one series each
  --out DIR       output folder (required)
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    qat: { type: "string" },
    allocate: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  if (!f.qat) throw new InputError("--qat is required (e.g. --qat 1.5=/tmp/qat15)");
  if (!f.out) throw new InputError("--out is required");
  const points: FrontierPoint[] = [];
  for (const pair of f.qat.split(",")) {
    const m = pair.match(/^([0-9.]+)=(.+)$/);
    if (!m || !Number.isFinite(Number(m[1]))) throw new InputError(`--qat: '${pair}' is not BUDGET=DIR`);
    points.push(...await qatPoints(m[2], Number(m[1])));
  }
  for (const dir of f.allocate?.split(",") ?? []) points.push(...await allocatorPoints(dir.trim()));
  const rows = mergeFrontier(points);
  await Deno.mkdir(`${f.out}/plots`, { recursive: true });
  await Deno.writeTextFile(`${f.out}/frontier.jsonl`, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const chart = frontierChart(rows as unknown as Record<string, unknown>[])!;
  const svg = await toSvg(chart.spec);
  await Deno.writeTextFile(`${f.out}/plots/${chart.name}.svg`, svg);
  await Deno.writeFile(`${f.out}/plots/${chart.name}.png`, svgToPng(svg));
  const html = await htmlReport("subbit: QAT vs post-training quantization", [chart], [{
    title: "Held-out bits/byte (first 64 KB of val.txt) by whole-file bits/param",
    columns: ["series", "budget", "bits/param", "bpb", "QAT steps", "source"],
    rows: rows.map((r) => [r.series, r.budget ?? "", r.bits_per_param, r.bpb, r.steps ?? "", r.source]),
  }], { points: String(rows.length) });
  await Deno.writeTextFile(`${f.out}/plots/index.html`, html);
  for (const r of rows) {
    console.error(
      `${r.series.padEnd(20)} budget ${String(r.budget ?? "—").padEnd(4)} ${r.bits_per_param.toFixed(4)} bits/param  ${
        r.bpb.toFixed(4)
      } bpb`,
    );
  }
  console.error(`qat:frontier: wrote ${f.out}/frontier.jsonl and ${f.out}/plots/`);
}

if (import.meta.main) await runMain("qat:frontier", main);

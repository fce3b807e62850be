import { openModel } from "./lib/tensor/model.ts";
import { getQuantizer } from "./lib/quant/mod.ts";
import { parseConfigId } from "./lib/sweep/grid.ts";
const [model, planPath] = Deno.args;
const plan = JSON.parse(Deno.readTextFileSync(planPath)).layers;
const py = JSON.parse(Deno.readTextFileSync("/tmp/fq_out.json"));
const src = await openModel(model);
const hex = (u: Uint8Array) => Array.from(u, (b) => b.toString(16).padStart(2, "0")).join("");
for (const [name, cid] of Object.entries(plan) as [string, string][]) {
  const t = await src.read(name);
  const c = parseConfigId(cid);
  const q = getQuantizer(c.method).quantize({ name, rows: t.shape[0], cols: t.shape[1], data: t.data }, c);
  const s = hex(q.symbols), sc = hex(new Uint8Array(q.meta.scales.buffer));
  let diff = 0;
  for (let i = 0; i < s.length; i += 2) if (s.slice(i, i + 2) !== py[name].sym.slice(i, i + 2)) diff++;
  console.log(name, cid, "symbols differ:", diff, "scales equal:", sc === py[name].sc);
}

/** deno task layers — the tensors of a model: what --layers can select, with shape, params, layer_kind and dtype. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { openModel } from "../lib/tensor/model.ts";
import { layerFilter, layerKind, selectLayers } from "../lib/tensor/select.ts";
import { numel } from "../lib/tensor/types.ts";

const HELP = `deno task layers [--model PATH] [--layers GLOBS] [--all] [--json]

Lists a model's 2-D weights — what sweep, pack and eval quantize — with shape, params, layer_kind and
stored dtype, so a --layers value can be tried before a long run. GLOBS is the same comma list the other
tasks take: '*' matches any run of characters, dots included ('gpt_neox.layers.*.mlp.*' spans every
block), '?' one character, '{a,b}' either alternative, and a leading '!' excludes
(e.g. 'gpt_neox.layers.*,!*.attention.*').

  --model PATH    model folder or file (default models/neox-tiny)
  --layers GLOBS  only the weights these globs select
  --all           every tensor (norms, biases: never quantized), not only 2-D weights
  --json          one JSON object per tensor on stdout instead of the table
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    model: { type: "string", default: "models/neox-tiny" },
    layers: { type: "string" },
    all: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  const src = await openModel(f.model!);
  const keep = f.layers ? layerFilter(f.layers) : () => true;
  const tensors = f.all ? src.tensors.filter((t) => keep(t.name)) : selectLayers(src.tensors, f.layers);
  const rows = tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    params: numel(t.shape),
    layer_kind: t.shape.length === 2 ? layerKind(t.name) : "-",
    dtype: t.dtype,
  }));
  if (f.json) {
    for (const r of rows) console.log(JSON.stringify(r));
  } else {
    const table = rows.map((r) => [r.name, `[${r.shape.join(", ")}]`, String(r.params), r.layer_kind, r.dtype]);
    const head = ["name", "shape", "params", "layer_kind", "dtype"];
    const w = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => i === 2 ? c.padStart(w[i]) : c.padEnd(w[i])).join("  ").trimEnd();
    console.log([line(head), w.map((n) => "-".repeat(n)).join("  "), ...table.map(line)].join("\n"));
  }
  const params = rows.reduce((a, r) => a + r.params, 0);
  console.error(`${rows.length} of ${src.tensors.length} tensors, ${params} params (${src.format}: ${src.path})`);
}

if (import.meta.main) await runMain("layers", main);

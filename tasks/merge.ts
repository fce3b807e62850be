/** deno task merge — combine shard runs (sweep --shard i/n) into one run folder. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { mergeShards } from "../lib/sweep/merge.ts";

const HELP = `deno task merge SHARD_DIR... --out DIR [--overwrite]

Combine the run folders of one sweep's shards (deno task sweep --shard i/n, --workers,
or a Slurm array from deno task submit) into one run folder: rows.parquet in grid order
and a manifest naming the shards. Refused, with the reason: a shard not complete
(interrupted or failed: continue it with deno task sweep --resume SHARD_DIR), shards of
different models, grids, seeds, layers or inputs, a shard index twice or missing, an
item in two shards or in none.

  --out DIR      the merged run folder (an existing run only with --overwrite)
  --overwrite    replace the rows of an existing run folder
  -h, --help`;

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(
    Deno.args,
    {
      out: { type: "string" },
      overwrite: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
    { positionalPaths: true },
  );
  if (f.help) return console.log(HELP);
  if (!positionals.length) throw new InputError("give the shard folders to merge (e.g. results/run/shards/*)");
  if (f.out === undefined) throw new InputError("--out is required (the merged run folder)");
  const runId = f.out.replace(/\/+$/, "").split("/").pop() || "merged";
  const r = await mergeShards(positionals, f.out, {
    overwrite: f.overwrite,
    runId,
    argv: ["deno", "task", "merge", ...Deno.args],
  });
  console.error(`${r.rows} rows from ${r.shards} shards -> ${f.out}/rows.parquet`);
}

if (import.meta.main) await runMain("merge", main);

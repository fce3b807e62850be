/** deno task fuzz — seeded mutation fuzzing of subbit's readers; exit 1 when anything but a clean rejection happens. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { fuzz } from "../lib/fuzz/run.ts";
import { FUZZ_TARGETS } from "../lib/fuzz/targets.ts";
import { progress } from "../lib/cli/progress.ts";

const HELP = `deno task fuzz [--iterations N] [--seed S] [--targets LIST] [--timeout-ms T] [--out DIR] [--json]

Mutate valid files of every format subbit reads — safetensors, GGUF, .subbit and the
range-coded symbol streams — with structure-aware mutations (lengths, offsets, counts,
dtypes, shape numbers, CRCs re-fixed or broken, truncations, junk, spliced chunks) and read
each with the real reader in a worker. Anything but success or a clean InputError is a
finding: a crash (another exception), a hang (no answer within --timeout-ms) or an
unbounded allocation (the worker's memory past 2 GiB). Findings are saved to --out for
replay; the exit code is 1 when there is any.

  --iterations N   inputs, spread over the targets in turn (default 2000)
  --seed S         seed of every mutation (default 0)
  --targets LIST   ${FUZZ_TARGETS.map((t) => t.name).join(", ")} (default all)
  --timeout-ms T   per-input limit (default 5000)
  --out DIR        where findings go (default results/fuzz)
  --json           print the report as one JSON object on stdout
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    iterations: { type: "string", default: "2000" },
    seed: { type: "string", default: "0" },
    targets: { type: "string" },
    "timeout-ms": { type: "string", default: "5000" },
    out: { type: "string", default: "results/fuzz" },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InputError(`--${name}: '${v}' is not a non-negative integer`);
    return n;
  };
  const names = f.targets ? f.targets.split(",").map((s) => s.trim()) : FUZZ_TARGETS.map((t) => t.name);
  const targets = names.map((n) => {
    const t = FUZZ_TARGETS.find((x) => x.name === n);
    if (!t) throw new InputError(`--targets: '${n}' is not one of ${FUZZ_TARGETS.map((x) => x.name).join(", ")}`);
    return t;
  });
  const iterations = int("iterations", f.iterations!);
  const bar = f.quiet ? undefined : progress(iterations, "fuzz");
  const r = await fuzz({
    iterations,
    seed: int("seed", f.seed!),
    timeoutMs: Math.max(1, int("timeout-ms", f["timeout-ms"]!)),
    maxRss: 2 * 2 ** 30,
    outDir: f.out!,
    targets,
    bar,
  });
  bar?.finish();
  for (const [name, s] of Object.entries(r.targets)) {
    console.error(
      `fuzz ${name}: ${s.inputs} inputs, ${s.accepted} read, ${s.rejected} rejected cleanly, ${s.findings} findings`,
    );
  }
  for (const x of r.findings.slice(0, 20)) console.error(`  ${x.kind} ${x.file}: ${x.message.split("\n")[0]}`);
  console.error(`fuzz: ${r.inputs} inputs in ${r.seconds.toFixed(1)} s, ${r.findings.length} findings`);
  if (f.json) console.log(JSON.stringify(r));
  if (r.findings.length) Deno.exit(1);
}

if (import.meta.main) await runMain("fuzz", main);

/**
 * deno task notebooks — type-check every notebook's code, then execute them all
 * headless (Debian's nbclient, the repo's Deno kernelspec under jupyter/) into
 * results/notebooks/. Sources stay committed with outputs stripped.
 */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const HELP = `deno task notebooks [NOTEBOOK...] [--out DIR] [--no-check]

Type-checks the code cells of each notebook (extracted into a temporary module,
deno check), then executes the notebooks with the Deno kernel, writing executed
copies to DIR (default results/notebooks/). Exit 1 if a check or a cell fails.`;

interface Notebook {
  cells: { cell_type: string; source: string[] | string; outputs?: unknown[] }[];
}

/** The notebooks under notebooks/, sorted. */
export async function listNotebooks(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}notebooks`)) {
    if (e.name.endsWith(".ipynb")) out.push(`${ROOT}notebooks/${e.name}`);
  }
  return out.sort();
}

/** deno check the concatenated code cells (written beside the notebook so relative imports resolve). */
export async function checkNotebook(path: string): Promise<{ ok: boolean; output: string }> {
  const nb = JSON.parse(await Deno.readTextFile(path)) as Notebook;
  const code = nb.cells.filter((c) => c.cell_type === "code").map((
    c,
  ) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n;\n");
  const tmp = path.replace(/\.ipynb$/, ".check.ts").replace(/\/([^/]+)$/, "/.$1");
  await Deno.writeTextFile(tmp, `// extracted from ${path}\n${code}\nexport {};\n`);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", tmp],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      cwd: ROOT,
    }).output();
    return { ok: out.success, output: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(tmp);
  }
}

/** Execute notebooks with the Python runner; returns its exit status. */
export async function executeNotebooks(paths: string[], outDir: string): Promise<boolean> {
  const env = {
    JUPYTER_PATH: `${ROOT}jupyter`,
    PATH: `${ROOT}node_modules/.bin:${Deno.env.get("PATH") ?? ""}`,
    NO_COLOR: "1",
  };
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("/usr/bin/python3", {
      args: [`${ROOT}tasks/run_notebooks.py`, outDir, ...paths],
      env,
      stdin: "null", // the runner and its kernels never read input (an inherited socket or pipe could block them)
      stdout: "inherit",
      stderr: "inherit",
    }).output();
  } catch {
    throw new InputError("/usr/bin/python3 not found: apt-get install python3-nbclient jupyter-nbconvert");
  }
  return out.success;
}

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(Deno.args, {
    out: { type: "string", default: `${ROOT}results/notebooks` },
    "no-check": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  }, true);
  if (f.help) return console.log(HELP);
  const paths = positionals.length
    ? positionals.map((p) => (p.startsWith("/") ? p : `${Deno.cwd()}/${p}`))
    : await listNotebooks();
  let ok = true;
  if (!f["no-check"]) {
    for (const p of paths) {
      const r = await checkNotebook(p);
      console.error(`notebooks: ${p.split("/").pop()}: type check ${r.ok ? "ok" : "FAILED"}`);
      if (!r.ok) {
        console.error(r.output);
        ok = false;
      }
    }
  }
  if (!(await executeNotebooks(paths, f.out!))) ok = false;
  if (!ok) Deno.exit(1);
  console.error(`notebooks: ${paths.length} executed -> ${f.out}`);
}

if (import.meta.main) await runMain("notebooks", main);

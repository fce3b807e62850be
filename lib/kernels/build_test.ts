import { strict as assert } from "node:assert";

/**
 * The first build says so before the minute of compiling (a gcc stand-in here, writing its -o file at once);
 * an up-to-date build says nothing.
 */
Deno.test("buildKernels: announces a build on stderr, once, and is silent when up to date", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/bin`);
  const gcc = `${dir}/bin/gcc`;
  await Deno.writeTextFile(gcc, '#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\n: > "$2"\n');
  await Deno.chmod(gcc, 0o755);
  const run = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", 'import { buildKernels } from "./lib/kernels/build.ts"; await buildKernels();'],
      env: { SUBBIT_KERNEL_BUILD: `${dir}/build`, PATH: `${dir}/bin:${Deno.env.get("PATH")}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stderr);
  };
  const first = await run();
  assert.equal(first.match(/building the C kernels with gcc \(once/g)?.length, 1, first);
  assert.equal(await run(), "");
  await Deno.remove(dir, { recursive: true });
});

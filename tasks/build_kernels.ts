/**
 * deno task build:kernels — compile kernels/c/*.c with gcc into two shared
 * libraries: kernels/build/libsubbit_native.so (-O3 -march=native) and
 * kernels/build/libsubbit_portable.so (-O3 -march=x86-64-v2). Skips up-to-date builds.
 */
import { buildKernels } from "../lib/kernels/build.ts";
import { runMain } from "../lib/cli/main.ts";

if (import.meta.main) {
  await runMain("build:kernels", async () => {
    if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
      console.log(
        "deno task build:kernels [--force]\n\nCompile kernels/c/*.c (gcc) into kernels/build/libsubbit_{native,portable}.so.",
      );
      return;
    }
    const built = await buildKernels({ force: Deno.args.includes("--force") });
    for (const b of built) console.error(`${b.path}: ${b.rebuilt ? "built" : "up to date"} (${b.flags.join(" ")})`);
  });
}

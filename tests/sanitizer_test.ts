/**
 * The C kernels under AddressSanitizer: the kernel, coder and model tests run again in a child deno whose kernel
 * library is an ASan build (SUBBIT_KERNEL_BUILD points at a temporary folder) with gcc's libasan preloaded, so an
 * out-of-bounds read or write of any kernel — on its own scratch or on a typed array's bytes, which come from the
 * same malloc — fails this test with ASan's report. Skipped where gcc has no libasan.
 */
import { strict as assert } from "node:assert";
import { compileLibrary } from "../lib/kernels/build.ts";

/** What the child runs: every test that calls the C library (the coders' C paths, the model's dense ops). */
const SANITIZED = ["lib/kernels/", "lib/sweep/latency_test.ts", "lib/coding/", "lib/model/"];

async function libasan(): Promise<string | null> {
  try {
    const out = await new Deno.Command("gcc", { args: ["-print-file-name=libasan.so"], stdout: "piped" }).output();
    const path = new TextDecoder().decode(out.stdout).trim();
    return path.startsWith("/") ? path : null; // gcc prints the bare name when it has none
  } catch {
    return null;
  }
}

const asan = await libasan();

Deno.test({
  name: "sanitizer: kernel, coder and model tests pass with the C library built with AddressSanitizer, no report",
  ignore: !asan,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "subbit-asan-" });
    try {
      const flags = ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", "-march=native"];
      await compileLibrary(`${dir}/libsubbit_native.so`, flags);
      await Deno.copyFile(`${dir}/libsubbit_native.so`, `${dir}/libsubbit_portable.so`);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", "-A", ...SANITIZED],
        cwd: new URL("..", import.meta.url).pathname,
        env: {
          SUBBIT_KERNEL_BUILD: dir,
          LD_PRELOAD: asan!,
          // V8 and Deno install their own SEGV handlers; leaks at exit (pools, caches) are not errors here
          ASAN_OPTIONS: "detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0",
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const report = text.indexOf("ERROR: AddressSanitizer");
      assert.equal(report, -1, `ASan report:\n${text.slice(report, report + 4000)}`);
      assert.ok(out.success, `the sanitized tests failed:\n${text.slice(-4000)}`);
      assert.match(text, /ok \| \d+ passed \| 0 failed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

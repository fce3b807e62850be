/**
 * Print "N passed, N failed" (", N skipped" when any) from a `deno test
 * --junit-path` XML file: CI reads this line, not Deno's own summary.
 * Usage: deno run -A tasks/junit_summary.ts results/junit.xml
 */
const path = Deno.args[0] ?? "results/junit.xml";
let xml: string;
try {
  xml = await Deno.readTextFile(path);
} catch {
  console.log("0 passed, 1 failed");
  console.error(`junit_summary: ${path} missing: the test run did not finish`);
  Deno.exit(1);
}
const cases = xml.match(/<testcase\b[\s\S]*?(?:\/>|<\/testcase>)/g) ?? [];
let failed = 0, skipped = 0;
for (const c of cases) {
  if (/<(failure|error)\b/.test(c)) failed++;
  else if (/<skipped\b/.test(c)) skipped++;
}
const passed = cases.length - failed - skipped;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);

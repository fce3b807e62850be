/** Plots on a quick sweep: valid PNGs whose text is really drawn, and an HTML report that renders in headless Chromium. */
import { strict as assert } from "node:assert";
import { chromium } from "playwright-core";
import { svgToPng } from "../lib/plot/render.ts";
import { runSweep } from "../lib/sweep/run.ts";
import { GRIDS } from "../lib/sweep/grid.ts";
import { makePlots } from "../lib/plot/run_report.ts";

const run = `${await Deno.makeTempDir()}/quick`;
await runSweep({
  model: "models/neox-tiny",
  grid: GRIDS.quick,
  gridName: "quick",
  seed: 0,
  outDir: run,
  runId: "quick",
  quiet: true,
});
const { files } = await makePlots(run);

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

Deno.test("plots: every chart is an SVG with text and a valid PNG in which the text is drawn", async () => {
  const svgs = files.filter((f) => f.endsWith(".svg"));
  assert.ok(svgs.length >= 3, `charts: ${svgs}`);
  for (const f of svgs) {
    const svg = await Deno.readTextFile(f);
    assert.match(svg, /<text[^>]*>[^<]+<\/text>/, `${f}: no text`);
    const png = await Deno.readFile(f.replace(/\.svg$/, ".png"));
    assert.deepEqual([...png.subarray(0, 8)], PNG_MAGIC, `${f}: not a PNG`);
    // The same chart with its text removed must render differently: the text is really drawn (fonts found).
    const blank = svgToPng(svg.replace(/<text[\s\S]*?<\/text>/g, ""));
    assert.notDeepEqual(png, blank, `${f}: PNG identical without text — fonts missing?`);
  }
});

Deno.test("plots: the HTML report renders every chart in headless Chromium without console errors", async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on(
      "request",
      (r) => !r.url().startsWith("file:") && !r.url().startsWith("data:") && errors.push(`network request: ${r.url()}`),
    );
    await page.goto(`file://${run}/plots/index.html`);
    await page.waitForFunction(
      "document.querySelectorAll('.chart svg').length === document.querySelectorAll('.chart').length",
      null,
      {
        timeout: 30000,
      },
    );
    const marks = await page.$$eval(".chart", (els) => els.map((e) => e.querySelectorAll("svg path, svg text").length));
    assert.ok(marks.length >= 3 && marks.every((n) => n > 20), `chart marks: ${marks}`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

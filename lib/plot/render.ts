/**
 * Vega-Lite → SVG without a browser (vega's headless "none" renderer), and
 * SVG → PNG with resvg. Text needs a real font: system fonts are loaded and
 * DejaVu Sans (Debian fonts-dejavu-core) is the default family, or the PNG
 * silently has no text.
 */
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export const FONT = "DejaVu Sans";

/** Config every chart shares: the font above, a white background. */
export const CHART_CONFIG = {
  font: FONT,
  background: "white",
  axis: { labelFont: FONT, titleFont: FONT },
  legend: { labelFont: FONT, titleFont: FONT, labelLimit: 0 },
  title: { font: FONT },
  header: { labelFont: FONT, titleFont: FONT },
};

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const vg = compile({ ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export function svgToPng(svg: string, scale = 2): Uint8Array {
  const r = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: FONT },
    background: "white",
  });
  return r.render().asPng();
}

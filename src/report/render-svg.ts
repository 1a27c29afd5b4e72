import type { TopLevelSpec } from 'vega-lite';

// Loaded on first use: every command imports the recipe, and only a finished stage or a
// report draws charts; the two libraries take a good part of a second to load.
let libs: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;

/**
 * A Vega-Lite spec rendered to SVG in Node: no browser to build the report, no script or CDN
 * to view it. Without the optional `canvas` package Vega estimates text widths, which is
 * deterministic, so the same data gives the same bytes.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  libs ??= Promise.all([import('vega'), import('vega-lite')]);
  const [vega, vl] = await libs;
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none', logLevel: 0 });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * A Vega-Lite spec rendered to SVG in Node: no browser to build the report, no script or CDN
 * to view it. Without the optional `canvas` package Vega estimates text widths, which is
 * deterministic, so the same data gives the same bytes.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none', logLevel: 0 });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

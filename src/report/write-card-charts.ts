import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../core/db.js';
import type { Manifest } from '../stages/shards/manifest.js';
import { funnelChart, tokenLengthChart } from './report-charts.js';
import { renderSvg } from './render-svg.js';
import { tokenLengthBins } from './token-length-bins.js';

export const CARD_CHART_FILES = ['charts/funnel.svg', 'charts/token-lengths.svg'] as const;

export interface CardCharts {
  /** Paths relative to the dataset directory, as the card links them (the Hub resolves them the same way). */
  funnel: string;
  tokenLengths: string | null;
}

/**
 * The funnel and the token-length histogram as SVG files beside the shards, for the dataset
 * card. Same data, same bytes: part of the shards stage's deterministic output.
 */
export async function writeCardCharts(db: Db, dir: string, manifest: Manifest): Promise<CardCharts> {
  await mkdir(join(dir, 'charts'), { recursive: true });
  const funnel = CARD_CHART_FILES[0];
  const rows = manifest.stages.map((s, order) => ({ stage: s.name, order, source: 'all sources', conversations: s.conversations_out }));
  await writeFile(join(dir, funnel), await renderSvg(funnelChart(rows)));
  let tokenLengths: string | null = null;
  if (manifest.tokens && manifest.files.length) {
    tokenLengths = CARD_CHART_FILES[1];
    const bins = await tokenLengthBins(db, manifest.files.map((f) => join(dir, f.path)), manifest.tokens.max_seq_len);
    const splits = [...new Set(bins.map((b) => b.group))];
    await writeFile(join(dir, tokenLengths), await renderSvg(tokenLengthChart(bins, manifest.tokens.max_seq_len, splits)));
  }
  return { funnel, tokenLengths };
}

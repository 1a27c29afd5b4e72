import type { ReportData } from './collect-report-data.js';
import { beforeAfterChart, clusterSizesChart, dropsChart, funnelChart, splitSharesChart, targetLengthChart, tokenLengthChart, userTurnsChart } from './report-charts.js';
import type { RenderedChart } from './render-report-html.js';
import { renderSvg } from './render-svg.js';

/** Every chart the report data supports, rendered to SVG; a chart with no rows is left out. */
export async function renderReportCharts(d: ReportData): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  const add = async (id: string, caption: string, rows: unknown[], spec: () => Parameters<typeof renderSvg>[0]) => {
    if (rows.length) out.push({ id, caption, svg: await renderSvg(spec()) });
  };
  await add('funnel', 'Conversations left after each stage, by source.', d.funnel, () => funnelChart(d.funnel));
  await add('drops', 'Every drop reason; the table below links each to example conversations.', d.drops, () => dropsChart(d.drops));
  const splits = [...new Set(d.tokens?.bins.map((b) => b.group) ?? [])];
  await add('token-lengths', 'Tokens per sample (history, intent and target in the training format). Red line: max_seq_len.', d.tokens?.bins ?? [], () => tokenLengthChart(d.tokens!.bins, d.tokens!.maxSeqLen, splits));
  await add('user-turns', 'Conversations in the shards by number of user turns.', d.userTurns, () => userTurnsChart(d.userTurns));
  await add('target-lengths', 'Tokens the loss is computed on, per sample kind.', d.targetLengths.bins, () => targetLengthChart(d.targetLengths.bins, d.targetLengths.kinds, d.targetLengths.cap));
  await add('languages', 'Conversations per language: as read (normalize) and in the final shards.', d.languages, () => beforeAfterChart('Languages before filtering and in the shards', 'language', d.languages));
  await add('countries', 'Conversations per country: as read (normalize) and in the final shards.', d.countries, () => beforeAfterChart('Countries before filtering and in the shards', 'country', d.countries));
  const splitNames = Object.keys(d.splits);
  await add('split-shares', 'Users of each country (the split stratum) by split; dashed lines where the configured fractions put the boundaries.', d.splitShares, () => splitSharesChart(d.splitShares, splitNames, d.fractions));
  await add('cluster-sizes', 'Duplicate groups by size: exact duplicates and near-duplicate clusters.', d.dedup?.sizes ?? [], () => clusterSizesChart(d.dedup!.sizes));
  return out;
}

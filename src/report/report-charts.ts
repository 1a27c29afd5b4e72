import type { TopLevelSpec } from 'vega-lite';

// Vega-Lite specs of every chart in the report and the card. Pure: rows in, spec out; the
// rows are aggregates (DuckDB did the counting), so a spec stays small at any corpus size.

const WIDTH = 560;
const FONT = { font: 'Helvetica, Arial, sans-serif', labelFont: 'Helvetica, Arial, sans-serif', titleFont: 'Helvetica, Arial, sans-serif' };
const CONFIG = {
  font: FONT.font,
  axis: { labelFont: FONT.labelFont, titleFont: FONT.titleFont, labelLimit: 260 },
  legend: { labelFont: FONT.labelFont, titleFont: FONT.titleFont, labelLimit: 260 },
  title: { font: FONT.titleFont, anchor: 'start' as const, fontSize: 14 },
  view: { stroke: null },
};

function spec(s: Record<string, unknown>): TopLevelSpec {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, background: 'white', ...s } as TopLevelSpec;
}

export interface StageSourceCount {
  stage: string;
  order: number;
  source: string;
  conversations: number;
}

/** Conversations left after each stage, stacked by source. */
export function funnelChart(rows: StageSourceCount[]): TopLevelSpec {
  const stages = [...new Map(rows.map((r) => [r.order, r.stage])).entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  return spec({
    title: 'Conversations kept after each stage',
    width: WIDTH,
    height: 220,
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'stage', type: 'nominal', sort: stages, title: 'stage', axis: { labelAngle: 0 } },
      y: { field: 'conversations', type: 'quantitative', title: 'conversations out', stack: 'zero' },
      color: { field: 'source', type: 'nominal', title: 'source' },
    },
  });
}

export interface DropCount {
  stage: string;
  order: number;
  reason: string;
  source: string;
  n: number;
}

/** Every drop reason of every stage, by source. */
export function dropsChart(rows: DropCount[]): TopLevelSpec {
  const values = rows.map((r) => ({ ...r, label: `${r.stage}: ${r.reason}` }));
  const labels = [...new Map(values.map((r) => [r.label, r])).values()].sort((a, b) => a.order - b.order || (a.label < b.label ? -1 : 1)).map((r) => r.label);
  return spec({
    title: 'Conversations dropped, by stage and reason',
    width: WIDTH - 160,
    height: { step: 18 },
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: labels, title: null },
      x: { field: 'n', type: 'quantitative', title: 'conversations dropped', stack: 'zero' },
      color: { field: 'source', type: 'nominal', title: 'source' },
    },
  });
}

export interface BinCount {
  group: string;
  bin: number;
  bin_end: number;
  n: number;
}

/** Histogram of pre-binned counts, one panel per group, with an optional limit line. */
function binnedHistogram(title: string, rows: BinCount[], groupTitle: string, xTitle: string, limit: number | null, groups: string[]): TopLevelSpec {
  const layer: Record<string, unknown>[] = [
    {
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'bin', type: 'quantitative', title: xTitle, bin: { binned: true } },
        x2: { field: 'bin_end' },
        y: { field: 'n', type: 'quantitative', title: 'count' },
        color: { field: 'group', type: 'nominal', title: groupTitle, sort: groups, legend: null },
      },
    },
  ];
  if (limit !== null) layer.push({ mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3], strokeWidth: 2 }, encoding: { x: { datum: limit } } });
  return spec({
    title,
    data: { values: rows },
    facet: { row: { field: 'group', type: 'nominal', title: groupTitle, sort: groups, header: { labelAngle: 0, labelAlign: 'left' } } },
    spec: { width: WIDTH - 80, height: 90, layer },
    resolve: { scale: { y: 'independent' } },
  });
}

/** Sample token lengths per split, against the window. */
export function tokenLengthChart(rows: BinCount[], maxSeqLen: number, splits: string[]): TopLevelSpec {
  return binnedHistogram(`Sample length in tokens per split (red: max_seq_len ${maxSeqLen})`, rows, 'split', 'tokens per sample', maxSeqLen, splits);
}

/** Target (user turn) lengths per sample kind. */
export function targetLengthChart(rows: BinCount[], kinds: string[], cap: number): TopLevelSpec {
  return binnedHistogram(`Target length in tokens by kind (the last bin holds everything >= ${cap})`, rows, 'kind', 'target tokens', null, kinds);
}

/** Conversations by number of user turns. */
export function userTurnsChart(rows: { turns: string; n: number }[]): TopLevelSpec {
  return spec({
    title: 'User turns per conversation (final shards)',
    width: { step: 36 },
    height: 180,
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'turns', type: 'ordinal', title: 'user turns', sort: null, axis: { labelAngle: 0 } },
      y: { field: 'n', type: 'quantitative', title: 'conversations' },
    },
  });
}

export interface BeforeAfter {
  key: string;
  when: 'before filtering' | 'in the shards';
  n: number;
}

/** Conversations per language or country before filtering and in the final shards. */
export function beforeAfterChart(title: string, field: string, rows: BeforeAfter[]): TopLevelSpec {
  const keys = [...new Set(rows.map((r) => r.key))];
  return spec({
    title,
    width: WIDTH - 160,
    height: { step: 12 },
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'key', type: 'nominal', title: field, sort: keys },
      yOffset: { field: 'when', type: 'nominal', sort: ['before filtering', 'in the shards'] },
      x: { field: 'n', type: 'quantitative', title: 'conversations' },
      color: { field: 'when', type: 'nominal', title: null, sort: ['before filtering', 'in the shards'], scale: { range: ['#9ecae1', '#08519c'] } },
    },
  });
}

/** Share of each country's users per split, with the configured cumulative fractions as lines. */
export function splitSharesChart(rows: { country: string; split: string; users: number }[], splits: string[], fractions: Record<string, number> | null): TopLevelSpec {
  const countries = [...new Set(rows.map((r) => r.country))];
  const layer: Record<string, unknown>[] = [
    {
      data: { values: rows },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'country', type: 'nominal', title: 'country (stratum)', sort: countries },
        x: { field: 'users', type: 'quantitative', stack: 'normalize', title: 'share of the stratum\'s users', axis: { format: '%' } },
        color: { field: 'split', type: 'nominal', title: 'split', sort: splits },
        order: { field: 'split_rank', type: 'quantitative' },
      },
      transform: [{ calculate: `indexof(${JSON.stringify(splits)}, datum.split)`, as: 'split_rank' }],
    },
  ];
  if (fractions) {
    let acc = 0;
    const cuts: { at: number; label: string }[] = [];
    for (const s of splits) {
      if (fractions[s] === undefined) continue;
      acc += fractions[s]!;
      if (acc < 0.9999) cuts.push({ at: acc, label: `configured ${s} ends` });
    }
    layer.push({ data: { values: cuts }, mark: { type: 'rule', color: 'black', strokeDash: [4, 3] }, encoding: { x: { field: 'at', type: 'quantitative' }, tooltip: { field: 'label' } } });
  }
  return spec({
    title: 'Split shares of users per country' + (fractions ? ' (dashed: configured fractions)' : ''),
    width: WIDTH - 160,
    height: { step: 16 },
    layer,
  });
}

/** How many duplicate groups there are of each size. */
export function clusterSizesChart(rows: { size: number; kind: string; clusters: number }[]): TopLevelSpec {
  return spec({
    title: 'Duplicate groups by size (conversations per group, kept one included)',
    width: { step: 36 },
    height: 180,
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'size', type: 'ordinal', title: 'group size', axis: { labelAngle: 0 } },
      y: { field: 'clusters', type: 'quantitative', title: 'groups', stack: 'zero' },
      color: { field: 'kind', type: 'nominal', title: 'kind' },
    },
  });
}

import type { DedupKeep } from '../../config/pipeline-config.js';
import type { ScoredPair } from './lsh-clusters.js';
import type { NearDedupResult } from './near-dedup.js';

export interface ReportText {
  text: string;
}

export interface DedupReportInput {
  near: NearDedupResult | null;
  exactDrops: number;
  /** Conversation id by stream position. */
  ids: string[];
  /** Texts of the positions the report shows. */
  texts: Map<number, ReportText>;
  dropTemplated: boolean;
  keep: DedupKeep;
  top?: number;
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}...` : one;
}

/**
 * A Markdown report of the largest near-duplicate clusters, the template families, and
 * the pairs on either side of the threshold, so that a person can judge the threshold.
 */
export function renderDedupReport(r: DedupReportInput): string {
  const top = r.top ?? 20;
  const text = (pos: number) => clip(r.texts.get(pos)?.text ?? '', 200);
  const L: string[] = ['# Dedup report', ''];
  L.push(`- exact duplicates dropped: ${r.exactDrops}`, `- keeper of each cluster: ${r.keep}`);
  const near = r.near;
  if (!near) {
    L.push('- near-duplicate and templated-prompt detection: off', '');
    return L.join('\n');
  }
  const s = near.stats;
  L.push(
    `- conversations compared: ${s.documents} (${s.eligible} take part in near-dup)`,
    `- templated prompts: ${s.templated} in ${s.template_families} families (${s.frequent_ngrams} frequent n-grams), ${r.dropTemplated ? 'dropped' : 'kept'}`,
    `- near-duplicates dropped: ${s.near_duplicates} in ${s.clusters} clusters`,
    `- LSH: ${s.bands} bands x ${s.rows} rows; ${s.candidate_pairs} candidate pairs, ${s.merged_pairs} merges`,
    '',
  );
  if (near.templateFamilies.length) {
    L.push(`## Template families (${Math.min(top, near.templateFamilies.length)} of ${near.templateFamilies.length})`, '');
    for (const [i, f] of near.templateFamilies.slice(0, top).entries()) L.push(`${i + 1}. ${f.count} conversations, e.g. \`${r.ids[f.first]}\`: ${text(f.first)}`);
    L.push('');
  }
  const clusters = largestClusters(near, top);
  if (clusters.length === 0) L.push('No near-duplicate clusters.', '');
  else {
    L.push(`## The ${clusters.length} largest clusters`, '');
    for (const [i, [k, ...members]] of clusters.entries()) {
      L.push(`### ${i + 1}. ${near.clusterSize[k!]} conversations, kept \`${r.ids[k!]}\``, '', `- kept: ${text(k!)}`);
      for (const m of members) L.push(`- ${near.similarity[m]!.toFixed(2)} \`${r.ids[m]}\`: ${text(m)}`);
      L.push('');
    }
  }
  const pairs = (title: string, ps: ScoredPair[]) => {
    if (!ps.length) return;
    L.push(`## ${title}`, '');
    for (const p of ps.slice(0, 10)) L.push(`- ${p.similarity.toFixed(2)} \`${r.ids[p.a]}\` / \`${r.ids[p.b]}\``, `  - ${text(p.a)}`, `  - ${text(p.b)}`);
    L.push('');
  };
  pairs('Most similar pairs not merged (near misses)', near.nearMisses);
  pairs('Least similar pairs merged', near.weakestMerges);
  return L.join('\n');
}

/** The `top` largest clusters: keeper first, then up to three members, least similar first. */
export function largestClusters(near: NearDedupResult, top: number): number[][] {
  const keepers: number[] = [];
  for (let i = 0; i < near.keeper.length; i++) if (near.keeper[i] === i && near.clusterSize[i]! > 1) keepers.push(i);
  keepers.sort((a, b) => near.clusterSize[b]! - near.clusterSize[a]! || a - b);
  const chosen = keepers.slice(0, top);
  const members = new Map<number, number[]>(chosen.map((k) => [k, []]));
  for (let i = 0; i < near.keeper.length; i++) {
    const m = members.get(near.keeper[i]!);
    if (m && near.keeper[i] !== i) m.push(i);
  }
  return chosen.map((k) => [k, ...members.get(k)!.sort((a, b) => near.similarity[a]! - near.similarity[b]! || a - b).slice(0, 3)]);
}

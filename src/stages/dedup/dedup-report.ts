import type { Db } from '../../core/db.js';
import type { NearDedupStats } from './near-dedup.js';

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}...` : one;
}

/**
 * A Markdown report of the largest near-duplicate clusters with sample texts and their
 * estimated similarity to the keeper, so that a person can judge the threshold.
 */
export async function renderDedupReport(
  db: Db,
  /** The caller's relations: the conversations compared, and findNearDuplicates' result over them. */
  rel: { input: string; near: string },
  textSql: string,
  stats: NearDedupStats | null,
  exactDrops: number,
  top = 20,
): Promise<string> {
  const L: string[] = ['# Dedup report', ''];
  L.push(`- exact duplicates dropped: ${exactDrops}`);
  if (!stats) {
    L.push('- near-duplicate and templated-prompt detection: off', '');
    return L.join('\n');
  }
  L.push(
    `- conversations compared: ${stats.documents} (${stats.eligible} long enough for near-dup)`,
    `- templated prompts dropped: ${stats.templated} (${stats.frequent_ngrams} frequent n-grams)`,
    `- near-duplicates dropped: ${stats.near_duplicates} in ${stats.clusters} clusters`,
    `- LSH: ${stats.bands} bands x ${stats.rows} rows; ${stats.candidate_pairs} candidate pairs, ${stats.merged_pairs} merges`,
    '',
  );
  const clusters = await db.all<{ keeper_id: string; cluster_size: number; keeper_text: string }>(
    `SELECT r.keeper_id, r.cluster_size, ${textSql} AS keeper_text
     FROM ${rel.near} r JOIN ${rel.input} c ON c.conversation_id = r.keeper_id
     WHERE r.conversation_id = r.keeper_id AND r.cluster_size > 1
     ORDER BY r.cluster_size DESC, r.keeper_id LIMIT ${top}`,
  );
  if (clusters.length === 0) {
    L.push('No near-duplicate clusters.', '');
    return L.join('\n');
  }
  L.push(`## The ${clusters.length} largest clusters`, '');
  for (const [i, c] of clusters.entries()) {
    L.push(`### ${i + 1}. ${c.cluster_size} conversations, kept \`${c.keeper_id}\``, '', `- kept: ${clip(c.keeper_text, 200)}`);
    const members = await db.all<{ conversation_id: string; similarity: number; t: string }>(
      `SELECT r.conversation_id, r.similarity, ${textSql} AS t
       FROM ${rel.near} r JOIN ${rel.input} c USING (conversation_id)
       WHERE r.keeper_id = $k AND r.conversation_id <> $k
       ORDER BY r.similarity, r.conversation_id LIMIT 3`,
      { k: c.keeper_id },
    );
    for (const m of members) L.push(`- ${m.similarity.toFixed(2)} \`${m.conversation_id}\`: ${clip(m.t, 200)}`);
    L.push('');
  }
  return L.join('\n');
}

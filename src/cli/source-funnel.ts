import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sqlList, toNumber, type Db } from '../core/db.js';
import { DATA_FILE, DROPS_FILE, type StageResult } from '../core/stage.js';

export interface SourceFunnel {
  source: string;
  in: number;
  kept: number;
  /** Drop reasons over all stages, most common first: [stage, reason, count]. */
  drops: [string, string, number][];
}

/**
 * Per source: conversations read, conversations in the output, and why the rest went, from the
 * stages' own files (ids are "<source>:..."; source names hold no colon).
 */
export async function sourceFunnels(db: Db, results: StageResult[]): Promise<SourceFunnel[] | { missing: string[] }> {
  const first = results[0]!;
  // The last stage that passes rows on in its data file (the shards stage writes shard files, and drops nothing).
  const last = [...results].reverse().find((r) => r.written.some((f) => f.path === DATA_FILE)) ?? results[results.length - 1]!;
  const dropsOf = (r: StageResult) => (r.written.some((f) => f.path === DROPS_FILE) ? join(dirname(r.data), DROPS_FILE) : null);
  const src = `split_part(conversation_id, ':', 1)`;
  const inputs = [first.data, dropsOf(first)].filter((x): x is string => x !== null);
  // Stage files removed since their stage finished (to save disk) leave the summary out, not the run failed.
  const missing = [...inputs, last.data, ...results.map(dropsOf)].filter((f): f is string => f !== null && !existsSync(f));
  if (missing.length) return { missing: [...new Set(missing)] };
  const ins = await db.all<{ s: string; n: unknown }>(`SELECT ${src} AS s, count(*) AS n FROM read_parquet(${sqlList(inputs)}, union_by_name = true) GROUP BY 1 ORDER BY 1`);
  const kept = new Map(
    (await db.all<{ s: string; n: unknown }>(`SELECT ${src} AS s, count(DISTINCT conversation_id) AS n FROM read_parquet(${sqlList([last.data])}) GROUP BY 1`)).map((r) => [r.s, toNumber(r.n)]),
  );
  const drops = new Map<string, [string, string, number][]>();
  for (const r of results) {
    const f = dropsOf(r);
    if (!f) continue;
    for (const row of await db.all<{ s: string; reason: string; n: unknown }>(`SELECT ${src} AS s, reason, count(*) AS n FROM read_parquet(${sqlList([f])}) GROUP BY 1, 2`)) {
      const list = drops.get(row.s) ?? [];
      list.push([r.stage, row.reason, toNumber(row.n)]);
      drops.set(row.s, list);
    }
  }
  return ins.map((r) => ({
    source: r.s,
    in: toNumber(r.n),
    kept: kept.get(r.s) ?? 0,
    drops: (drops.get(r.s) ?? []).sort((a, b) => b[2] - a[2] || (a[1] < b[1] ? -1 : 1)),
  }));
}

export function formatFunnel(f: SourceFunnel): string {
  const top = f.drops.slice(0, 4).map(([stage, reason, n]) => `${reason} ${n} (${stage})`);
  const more = f.drops.length > 4 ? `, ${f.drops.slice(4).reduce((a, d) => a + d[2], 0)} more` : '';
  return `  source ${f.source}: ${f.in} in, ${f.kept} kept` + (top.length ? `; dropped ${top.join(', ')}${more}` : '');
}

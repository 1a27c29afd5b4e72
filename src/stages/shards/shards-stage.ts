import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString, toNumber } from '../../core/db.js';
import { sha256File } from '../../core/hash.js';
import { startProgress } from '../../core/progress.js';
import type { StageSpec } from '../../core/stage.js';
import { readSchema, VERSION } from '../../core/version.js';
import { buildManifest, type ShardFile, type SplitStats } from './manifest.js';
import { renderCard, splitOrder, type SampleSchema } from './render-card.js';

export const SAMPLE_COLUMNS = [
  'sample_id', 'conversation_id', 'source', 'split', 'user_key', 'country', 'language',
  'turn_index', 'num_user_turns', 'kind', 'intent', 'messages', 'target',
] as const;

export function shardName(split: string, i: number, n: number): string {
  return `data/${split}-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.parquet`;
}

/**
 * The published form: per split, Parquet shards in a seeded shuffled order (so that a
 * streaming reader sees a mix of conversations), plus manifest.json and the dataset card.
 */
export const shardsStage: StageSpec = {
  name: 'shards',
  version: 2,
  options: (p) => ({ ...p.config.stages.shards, seed: p.config.seed, name: p.config.name, config_hash: p.configHash, generator: VERSION }),
  async run({ db, pipeline, dir, input, previous, log }) {
    const o = pipeline.config.stages.shards;
    const schema = readSchema<SampleSchema>('sample.schema.json');
    await mkdir(join(dir, 'data'), { recursive: true });
    await db.run(
      `CREATE OR REPLACE TEMP TABLE shard_rows AS
       SELECT ${SAMPLE_COLUMNS.join(', ')},
         row_number() OVER (PARTITION BY split ORDER BY md5($seed || ':' || sample_id), sample_id) - 1 AS rn
       FROM read_parquet(${sqlString(input!)})`,
      { seed: String(pipeline.config.seed) },
    );
    const stats = await db.all<{ split: string; samples: unknown; conversations: unknown; users: unknown }>(
      `SELECT split, count(*) AS samples, count(DISTINCT conversation_id) AS conversations,
              count(DISTINCT coalesce(user_key, 'conversation|' || conversation_id)) AS users
       FROM shard_rows GROUP BY split`,
    );
    const files: ShardFile[] = [];
    const splits: Record<string, SplitStats> = {};
    const progress = startProgress(log, 'shards', stats.reduce((a, s) => a + toNumber(s.samples), 0), 'samples');
    for (const split of splitOrder(stats.map((s) => s.split))) {
      const st = stats.find((s) => s.split === split)!;
      const n = toNumber(st.samples);
      const shards = Math.max(1, Math.ceil(n / o.max_rows_per_shard));
      let bytes = 0;
      for (let i = 0; i < shards; i++) {
        const rel = shardName(split, i, shards);
        await db.run(
          `COPY (SELECT ${SAMPLE_COLUMNS.join(', ')} FROM shard_rows
                 WHERE split = $split AND rn >= $lo AND rn < $hi ORDER BY rn)
           TO ${sqlString(join(dir, rel))}
           (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${o.compression_level}, ROW_GROUP_SIZE ${o.row_group_rows})`,
          { split, lo: i * o.max_rows_per_shard, hi: (i + 1) * o.max_rows_per_shard },
        );
        const h = await sha256File(join(dir, rel));
        const rows = Math.min(n - i * o.max_rows_per_shard, o.max_rows_per_shard);
        files.push({ path: rel, split, rows, bytes: h.bytes, sha256: h.sha256 });
        bytes += h.bytes;
        progress.tick(rows);
      }
      splits[split] = {
        conversations: toNumber(st.conversations),
        samples: n,
        users: toNumber(st.users),
        bytes,
        files: shards,
      };
    }
    progress.stop();
    await db.run('DROP TABLE shard_rows');
    const manifest = buildManifest({ pipeline, version: VERSION, schemaVersion: schema.version, previous, splits, files });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await writeFile(
      join(dir, 'README.md'),
      renderCard(manifest, schema, { languages: pipeline.config.stages.filter.languages, endToken: pipeline.config.stages.flip.end_token }),
    );
    return { outputs: files.map((f) => f.path) };
  },
};

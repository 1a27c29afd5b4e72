import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/core/runner.js';
import { normalizeStage } from '../../src/stages/normalize/normalize-stage.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

/** A generic Parquet file of two-turn conversations: (id, first user turn). */
async function conversations(path: string, rows: [string, string][]): Promise<void> {
  const values = rows.map(([id, text]) => `(${sqlString(id)}, ${sqlString(text)})`).join(', ');
  await withDb((db) =>
    db.run(
      `COPY (SELECT id, [{'role': 'user', 'content': text}, {'role': 'assistant', 'content': 'ok'}] AS turns FROM (VALUES ${values}) t(id, text))
       TO ${sqlString(path)} (FORMAT parquet)`,
    ),
  );
}

async function normalize(dir: string, name: string, files: string[]): Promise<{ data: Buffer; rows: string[][]; drops: string[][] }> {
  const run = join(dir, name);
  const { pipeline } = writePipeline(
    dir,
    `name: ${name}\nrun_dir: ${run}\nout_dir: ${join(dir, `${name}-out`)}\nsources:
  - {name: g, type: generic, files: [${files.join(', ')}], fields: {id: id, messages: turns}, language: English}
`,
    `${name}.yaml`,
  );
  await runPipeline(pipeline(), [normalizeStage], { log: silentLogger });
  const file = join(run, 'normalize', 'data.parquet');
  // Read in file order: no ORDER BY, one thread's scan of one file keeps it.
  const [rows, drops] = await withDb(async (db) => [
    (await db.all<{ id: string; f: string; t: string }>(`SELECT conversation_id AS id, source_file AS f, messages[1].content AS t FROM read_parquet(${sqlString(file)})`)).map((r) => [r.id, r.f.split('/').pop()!, r.t]),
    (await db.all<{ id: string; reason: string; f: string }>(`SELECT conversation_id AS id, reason, source_file AS f FROM read_parquet(${sqlString(join(run, 'normalize', 'drops.parquet'))})`)).map((r) => [r.id, r.reason, r.f.split('/').pop()!]),
  ]);
  return { data: readFileSync(file), rows, drops };
}

describe('normalize: row order', () => {
  it('writes source, file and row order whatever order the files are listed in, by the streamed copy and the sorted one alike', async () => {
    const dir = tempDir();
    const [a, c] = [join(dir, 'a.parquet'), join(dir, 'c.parquet')];
    await conversations(a, [['a2', 'second of a'], ['a1', 'first of a'], ['a3', 'third of a']]);
    await conversations(c, [['c1', 'one of c'], ['c0', 'zero of c']]);
    // Listed sorted: the rows stream from the file into data.parquet. Listed the other way:
    // the copy sorts. Both must give the same file, byte for byte.
    const sorted = await normalize(dir, 'sorted', [a, c]);
    const reversed = await normalize(dir, 'reversed', [c, a]);
    assert.deepEqual(sorted.rows, [
      ['g:a2', 'a.parquet', 'second of a'],
      ['g:a1', 'a.parquet', 'first of a'],
      ['g:a3', 'a.parquet', 'third of a'],
      ['g:c1', 'c.parquet', 'one of c'],
      ['g:c0', 'c.parquet', 'zero of c'],
    ]);
    assert.deepEqual(reversed.rows, sorted.rows);
    assert.ok(reversed.data.equals(sorted.data), 'the sorted copy wrote other bytes than the streamed one');
  });

  it('keeps the first row of a repeated id in file order, even from a file listed last, and records the others as duplicate_id', async () => {
    const dir = tempDir();
    const [a, b] = [join(dir, 'a.parquet'), join(dir, 'b.parquet')];
    await conversations(a, [['x1', 'x1 from a'], ['only-a', 'only in a'], ['x2', 'x2 from a']]);
    await conversations(b, [['x2', 'x2 from b'], ['only-b', 'only in b'], ['x1', 'x1 from b'], ['x1', 'x1 again in b']]);
    const got = await normalize(dir, 'dups', [b, a]);
    assert.deepEqual(got.rows, [
      ['g:x1', 'a.parquet', 'x1 from a'],
      ['g:only-a', 'a.parquet', 'only in a'],
      ['g:x2', 'a.parquet', 'x2 from a'],
      ['g:only-b', 'b.parquet', 'only in b'],
    ]);
    assert.deepEqual(got.drops, [
      ['g:x2', 'duplicate_id', 'b.parquet'],
      ['g:x1', 'duplicate_id', 'b.parquet'],
      ['g:x1', 'duplicate_id', 'b.parquet'],
    ]);
  });
});

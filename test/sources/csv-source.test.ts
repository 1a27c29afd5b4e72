import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/core/runner.js';
import { normalizeStage } from '../../src/stages/normalize/normalize-stage.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

describe('CSV sources', () => {
  it('reads a gzip CSV whose messages column holds a JSON list, and Parquet flags as text by the same rule', async () => {
    const dir = tempDir();
    const csv = 'conv,who,msgs,flag\n' + 'c1,ann,"[{""role"": ""user"", ""content"": ""hi, there""}, {""role"": ""assistant"", ""content"": ""hello""}]",Y\n' + 'c2,bob,"[{""role"": ""user"", ""content"": ""q""}, {""role"": ""assistant"", ""content"": ""a""}]",n\n';
    writeFileSync(join(dir, 'chats.csv.gz'), gzipSync(Buffer.from(csv)));
    const pq = join(dir, 'flags.parquet');
    await withDb((db) =>
      db.run(`COPY (SELECT 'p1' AS cid, 'yes' AS tox, [{'role': 'user', 'content': 'x'}, {'role': 'assistant', 'content': 'y'}] AS turns) TO ${sqlString(pq)} (FORMAT parquet)`),
    );
    const { pipeline } = writePipeline(
      dir,
      `name: c\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:
  - {name: c, type: generic, files: [${join(dir, 'chats.csv.gz')}], fields: {id: conv, user: who, messages: msgs, toxic: flag}, language: English}
  - {name: p, type: generic, files: [${pq}], fields: {id: cid, messages: turns, toxic: tox}, language: English}
`,
    );
    await runPipeline(pipeline(), [normalizeStage], { log: silentLogger });
    const rows = await withDb((db) =>
      db.all<{ conversation_id: string; user_key: string; toxic: boolean; first: string }>(
        `SELECT conversation_id, user_key, toxic, messages[1].content AS first FROM read_parquet(${sqlString(join(dir, 'runs', 'normalize', 'data.parquet'))}) ORDER BY 1`,
      ),
    );
    assert.deepEqual(rows.map((r) => [r.conversation_id, r.user_key, r.toxic, r.first]), [
      ['c:c1', 'c|ann', true, 'hi, there'],
      ['c:c2', 'c|bob', false, 'q'],
      ['p:p1', null, true, 'x'],
    ]);
  });
});

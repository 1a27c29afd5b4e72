import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { readJsonRecords } from '../../src/sources/read-json-records.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { REALDATA, tempDir, withDb, writePipeline } from '../helpers.js';

async function all(path: string) {
  const out = [];
  for await (const r of readJsonRecords(path, 'test')) out.push(r.value as Record<string, unknown>);
  return out;
}

describe('JSON lines records', () => {
  it('reads every real WildChat-1M row, floats with 16+ digits after the point included, as JSON.parse does', async () => {
    const path = join(REALDATA, 'wildchat-1m-sample50.jsonl');
    const want = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const got = await all(path);
    assert.equal(got.length, 50);
    // The moderation scores are such floats (0.00015608726243954152 in the first row).
    assert.ok(/\d\.\d{16,}/.test(readFileSync(path, 'utf8')));
    assert.deepEqual(got, want);
  });

  it('keeps integers past 2^53 as exact text, and a float or exponent next to them as a number', async () => {
    const path = join(tempDir(), 'big.jsonl');
    writeFileSync(path, '{"id": 1234567890123456789, "score": 0.12345678901234567890, "e": 1.5e-17, "n": -98765432109876543210}\n');
    const [r] = await all(path);
    assert.deepEqual(r, { id: '1234567890123456789', score: 0.12345678901234567890, e: 1.5e-17, n: '-98765432109876543210' });
  });

  it('normalizes the real WildChat-1M rows from their JSON lines exactly as from their Parquet (text timestamps included)', async () => {
    const normalized = async (file: string) => {
      const dir = tempDir();
      const yaml = `name: t\nseed: 1\nrun_dir: ${JSON.stringify(join(dir, 'runs'))}\nout_dir: ${JSON.stringify(join(dir, 'out'))}\n` +
        `sources:\n  - name: wildchat\n    type: wildchat\n    files: [${JSON.stringify(join(REALDATA, file))}]\n` +
        `stages:\n  filter: {languages: []}\n  intents: {backend: template}\n`;
      await buildDataset(writePipeline(dir, yaml).pipeline(), silentLogger);
      return join(dir, 'runs', 'normalize', 'data.parquet');
    };
    const fromJson = await normalized('wildchat-1m-sample50.jsonl');
    const fromParquet = await normalized('wildchat-1m-sample50.parquet');
    await withDb(async (db) => {
      const cols = 'conversation_id, timestamp, language, user_key, country, toxic, redacted, messages';
      const diff = (a: string, b: string) => db.count(`SELECT ${cols} FROM read_parquet(${sqlString(a)}) EXCEPT ALL SELECT ${cols} FROM read_parquet(${sqlString(b)})`);
      assert.equal(await diff(fromJson, fromParquet), 0);
      assert.equal(await diff(fromParquet, fromJson), 0);
      assert.equal(await db.count(`SELECT 1 FROM read_parquet(${sqlString(fromJson)}) WHERE timestamp IS NOT NULL`), 50);
    });
  });

  it('stops on a WildChat JSON timestamp that is no timestamp, naming the file and the record', async () => {
    const dir = tempDir();
    const lines = readFileSync(join(REALDATA, 'wildchat-1m-sample50.jsonl'), 'utf8').trim().split('\n').slice(0, 4);
    const bad = JSON.parse(lines[2]!) as Record<string, unknown>;
    bad['timestamp'] = 'yesterday at noon';
    lines[2] = JSON.stringify(bad);
    const file = join(dir, 'wildchat-bad-time.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const yaml = `name: t\nseed: 1\nrun_dir: ${JSON.stringify(join(dir, 'runs'))}\nout_dir: ${JSON.stringify(join(dir, 'out'))}\n` +
      `sources:\n  - name: wildchat\n    type: wildchat\n    files: [${JSON.stringify(file)}]\n` +
      `stages:\n  filter: {languages: []}\n  intents: {backend: template}\n`;
    await assert.rejects(buildDataset(writePipeline(dir, yaml).pipeline(), silentLogger), (e: Error) => {
      assert.match(e.message, /wildchat-bad-time\.jsonl/);
      assert.match(e.message, /record 3: timestamp "yesterday at noon" is not a timestamp/);
      assert.match(e.message, /^sources\[0\] \(wildchat\): \S+wildchat-bad-time\.jsonl, record 3/);
      assert.doesNotMatch(e.message, /damaged/, 'the record is named, not the whole file blamed');
      return true;
    });
  });
});

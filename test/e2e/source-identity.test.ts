import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/hash.js';
import { sqlString } from '../../src/core/db.js';
import { runCli, tempDir, withDb } from '../helpers.js';

describe('source file identity', () => {
  it('sees a same-size edit whose modification time was put back, and the manifest records the sha256 the file has', async () => {
    const dir = tempDir();
    const chats = join(dir, 'chats.jsonl');
    const rows = (word: string) =>
      ['volcanoes', 'bread', 'tides'].map((t, i) => JSON.stringify({ id: i, messages: [{ role: 'user', content: `Tell me about ${t}, ${word}.` }, { role: 'assistant', content: 'Sure.' }] })).join('\n') + '\n';
    writeFileSync(chats, rows('please'));
    const file = join(dir, 'p.yaml');
    writeFileSync(file, `name: ident\nrun_dir: ${dir}/runs\nout_dir: ${dir}/out\nsources:\n  - {name: c, type: generic, preset: openai, files: [${chats}], fields: {id: id}, language: English}\nstages:\n  split: {fractions: {train: 1}}\n`);
    assert.equal(runCli(['run', file]).status, 0);
    const before = statSync(chats);
    // Same length, same modification time: what `touch -r` or an mtime-preserving copy leaves.
    assert.equal(spawnSync('cp', ['-p', chats, join(dir, 'backup')]).status, 0);
    writeFileSync(chats, rows('kindly'));
    assert.equal(spawnSync('touch', ['-r', join(dir, 'backup'), chats]).status, 0);
    assert.equal(statSync(chats).size, before.size);
    assert.equal(statSync(chats).mtimeMs, before.mtimeMs);

    const r = runCli(['run', file, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const started = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((e) => e.event === 'stage.start').map((e) => e.stage);
    assert.ok(started.includes('normalize'), `normalize reran (started: ${started.join(', ')})`);
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    assert.ok(JSON.stringify(manifest).includes(sha256Hex(readFileSync(chats))), "the manifest holds the file's real sha256");
    assert.ok(!JSON.stringify(manifest).includes(sha256Hex(readFileSync(join(dir, 'backup')))), 'and not the old one');
    const targets = await withDb((db) => db.all<{ target: string }>(`SELECT target FROM read_parquet(${sqlString(join(dir, 'out', 'data', '*.parquet'))}) WHERE kind = 'initiation'`));
    assert.ok(targets.length === 3 && targets.every((t) => t.target.endsWith('kindly.')), 'the shards hold the new text');
  });
});

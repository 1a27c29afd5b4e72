// A user's file put into out_dir while the export copies the new dataset (after the check
// under the lock) was deleted with the old dataset: found by the crash soak's foreign
// episodes. The export must notice it at the swap, put out_dir back and refuse (exit 2).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/hash.js';
import { silentLogger } from '../../src/core/logger.js';
import { readMarker } from '../../src/core/marker.js';
import { planPipeline } from '../../src/core/runner.js';
import { ConfigError } from '../../src/core/errors.js';
import { buildDataset, STAGES } from '../../src/stages/recipe.js';
import { exportDataset, OUT_MARKER } from '../../src/stages/shards/export-dataset.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

const USER_BYTES = Buffer.from('years of work\n');

async function smallDataset(dir: string) {
  const chats = join(dir, 'chats.jsonl');
  const topics = ['volcanoes erupt', 'bread rises', 'tides follow the moon', 'bees dance'];
  writeFileSync(chats, topics.map((t, i) => JSON.stringify({ id: i, messages: [{ role: 'user', content: `Explain why ${t}, please.` }, { role: 'assistant', content: `Because of ${t}.` }] })).join('\n') + '\n');
  const yaml =
    `name: race\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\n` +
    `sources:\n  - {name: c, type: generic, preset: openai, files: [${chats}], fields: {id: id}, language: English}\n` +
    `stages:\n  split: {fractions: {train: 1}}\n`;
  const p = writePipeline(dir, yaml).pipeline();
  await buildDataset(p, silentLogger);
  const stageDir = (await withDb((db) => planPipeline(p, STAGES, db))).at(-1)!.dir;
  return { p, stageDir, marker: (await readMarker(stageDir))!, owner: { runDir: p.config.run_dir, pipelineFile: p.file } };
}

/** Calls put() once, as soon as the export's staging copy out.tmp-<pid> appears beside out_dir. */
function whenStaging(dir: string, put: () => void): { done: () => boolean; close: () => void } {
  let did = false;
  const w = watch(dir, (_event, name) => {
    if (did || !name?.startsWith('out.tmp-')) return;
    did = true;
    put();
  });
  return { done: () => did, close: () => w.close() };
}

function snapshot(out: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(out, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .sort()
      .map((f) => [f, sha256Hex(readFileSync(f))]),
  );
}

describe('out_dir: a user file put in while the export copies', () => {
  it('is kept: the old dataset is put back and the export refused with the file named; once moved away, the export runs', async () => {
    const dir = tempDir();
    const { stageDir, marker, owner } = await smallDataset(dir);
    const out = join(dir, 'out');
    // A published shard damaged in place: the next export must replace the dataset.
    const shard = join(out, marker.files.find((f) => f.path.endsWith('.parquet'))!.path);
    writeFileSync(shard, 'damaged');
    const before = snapshot(out);
    const w = whenStaging(dir, () => writeFileSync(join(out, 'thesis.tex'), USER_BYTES));
    try {
      await assert.rejects(exportDataset(stageDir, marker, out, silentLogger, owner), (e: Error) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, /received files userlm-data did not write while the dataset was being exported \(thesis\.tex\)/);
        return true;
      });
    } finally {
      w.close();
    }
    assert.ok(w.done(), 'the file was put in during the copy');
    assert.deepEqual(readFileSync(join(out, 'thesis.tex')), USER_BYTES);
    const after = snapshot(out);
    delete after[join(out, 'thesis.tex')];
    assert.deepEqual(after, before, 'out_dir is as it was');
    assert.deepEqual(readdirSync(dir).filter((n) => /^out\.(tmp|old)-/.test(n)), [], 'no staging copy or old dataset left beside it');

    // The user moves the file away, as the message says: the export now replaces the damaged dataset.
    writeFileSync(join(dir, 'thesis.tex'), readFileSync(join(out, 'thesis.tex')));
    await import('node:fs/promises').then((fs) => fs.rm(join(out, 'thesis.tex')));
    assert.equal(await exportDataset(stageDir, marker, out, silentLogger, owner), 'written');
    for (const f of marker.files) assert.equal(sha256Hex(readFileSync(join(out, f.path))), f.sha256, f.path);
    assert.ok(existsSync(join(out, OUT_MARKER)));
  });

  it('is kept when out_dir is made, with the file in it, while the first export copies', async () => {
    const dir = tempDir();
    const { stageDir, marker, owner } = await smallDataset(dir);
    const out = join(dir, 'out');
    await import('node:fs/promises').then((fs) => fs.rm(out, { recursive: true }));
    const w = whenStaging(dir, () => {
      mkdirSync(out);
      writeFileSync(join(out, 'thesis.tex'), USER_BYTES);
    });
    try {
      await assert.rejects(exportDataset(stageDir, marker, out, silentLogger, owner), /received files userlm-data did not write while the dataset was being exported \(thesis\.tex\)/);
    } finally {
      w.close();
    }
    assert.ok(w.done());
    assert.deepEqual(readdirSync(out), ['thesis.tex']);
    assert.deepEqual(readFileSync(join(out, 'thesis.tex')), USER_BYTES);
    assert.deepEqual(readdirSync(dir).filter((n) => /^out\.(tmp|old)-/.test(n)), []);
  });

  it("a killed export's old copy that holds a user's file is left beside out_dir, with a warning; a clean one is removed", async () => {
    const dir = tempDir();
    const { stageDir, marker, owner } = await smallDataset(dir);
    const out = join(dir, 'out');
    // As a kill leaves it between renaming the old dataset aside and the check: its record,
    // its files, and a file a user put in during the copy. pid 2^22+1 is past pid_max's default.
    const record = JSON.parse(readFileSync(join(out, OUT_MARKER), 'utf8')) as { files: { path: string }[] };
    for (const [name, user] of [['out.old-4194305', true], ['out.old-4194306', false]] as const) {
      const old = join(dir, name);
      for (const f of record.files) {
        mkdirSync(join(old, f.path, '..'), { recursive: true });
        writeFileSync(join(old, f.path), readFileSync(join(out, f.path)));
      }
      writeFileSync(join(old, OUT_MARKER), JSON.stringify(record));
      if (user) writeFileSync(join(old, 'thesis.tex'), USER_BYTES);
    }
    writeFileSync(join(out, marker.files.find((f) => f.path.endsWith('.parquet'))!.path), 'damaged');
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_e: string, m: string) => void warnings.push(m) };
    assert.equal(await exportDataset(stageDir, marker, out, log, owner), 'written');
    assert.deepEqual(readFileSync(join(dir, 'out.old-4194305', 'thesis.tex')), USER_BYTES);
    assert.equal(existsSync(join(dir, 'out.old-4194306')), false, 'the leftover with only the tool\'s files is removed');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /out\.old-4194305 is a killed export's copy .* holds files userlm-data did not write; it was left as it is/);
  });
});

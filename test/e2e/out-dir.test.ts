import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/hash.js';
import { silentLogger } from '../../src/core/logger.js';
import { readMarker } from '../../src/core/marker.js';
import { planPipeline } from '../../src/core/runner.js';
import { exportDataset, OUT_MARKER } from '../../src/stages/shards/export-dataset.js';
import { buildDataset, STAGES } from '../../src/stages/recipe.js';
import { sourceFunnels } from '../../src/cli/source-funnel.js';
import { checkVisibleState } from '../crash/crash-harness.js';
import { parsePipeline } from '../../src/config/load-pipeline.js';
import { ConfigError } from '../../src/core/errors.js';
import { CLI, runCli, tempDir, withDb, writePipeline } from '../helpers.js';

function events(stderr: string): { event: string; stage?: string }[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

/** A pipeline over four small conversations (a run takes about as long as Node and DuckDB take to start). */
function pipelineWith(dir: string, o: { out: string; runs?: string; name?: string }): string {
  const chats = join(dir, 'chats.jsonl');
  const topics = ['volcanoes erupt', 'bread rises', 'tides follow the moon', 'bees dance'];
  writeFileSync(chats, topics.map((t, i) => JSON.stringify({ id: i, messages: [{ role: 'user', content: `Explain why ${t}, please.` }, { role: 'assistant', content: `Because of ${t}.` }] })).join('\n') + '\n');
  const file = join(dir, `${o.name ?? 'pipeline'}.yaml`);
  writeFileSync(
    file,
    `name: ${o.name ?? 'small'}\nrun_dir: ${o.runs ?? join(dir, 'runs')}\nout_dir: ${o.out}\n` +
      `sources:\n  - {name: c, type: generic, preset: openai, files: [${chats}], fields: {id: id}, language: English}\n` +
      `stages:\n  split: {fractions: {train: 1}}\n`,
  );
  return file;
}

function manifestHashes(out: string): void {
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
  for (const f of m.files) assert.equal(sha256Hex(readFileSync(join(out, f.path))), f.sha256, `${f.path} matches the manifest`);
}

/** Overwrite one byte in place (same size), then set the modification time back, as an editor or a careless script would. */
function editInPlace(path: string, at: number): void {
  const before = statSync(path);
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, at);
  closeSync(fd);
  utimesSync(path, before.atime, before.mtime);
  assert.equal(statSync(path).size, before.size);
}

describe('out_dir: only ever replace what the tool wrote', () => {
  it('refuses an out_dir holding a user\'s files, before any stage runs, and leaves them alone', () => {
    const dir = tempDir();
    const out = join(dir, 'mine');
    mkdirSync(out);
    writeFileSync(join(out, 'thesis.tex'), 'years of work');
    const r = runCli(['run', pipelineWith(dir, { out })]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /out_dir: .*mine already holds files userlm-data did not write \(thesis\.tex\).*Point out_dir at a new or empty directory/);
    assert.equal(readFileSync(join(out, 'thesis.tex'), 'utf8'), 'years of work');
    assert.equal(existsSync(join(dir, 'runs')), false, 'no stage ran');
  });

  it('validate refuses out_dir equal to, inside or around run_dir or a source, through symlinks too', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'chats.jsonl'), '');
    symlinkSync(join(dir, 'runs'), join(dir, 'link-to-runs'));
    const cases: [string, RegExp][] = [
      [`run_dir: ${dir}/same\nout_dir: ${dir}/same`, /out_dir: is the same directory as run_dir/],
      [`run_dir: ${dir}/runs\nout_dir: ${dir}/runs/out`, /out_dir: is inside run_dir/],
      [`run_dir: ${dir}/runs/x\nout_dir: ${dir}/runs`, /out_dir: contains run_dir/],
      [`run_dir: ${dir}/runs\nout_dir: ${dir}/link-to-runs`, /out_dir: is the same directory as run_dir/],
      [`run_dir: ${dir}/runs\nout_dir: /`, /out_dir: contains run_dir.*\n.*is the root of the file system/],
      [`run_dir: ${dir}/runs\nout_dir: ${dir}/data`, /sources\[0\]\.files\[0\]: out_dir \(.*\/data\) contains the source files/],
      [`run_dir: ${dir}/runs\nout_dir: ${dir}/data/chats.jsonl`, /sources\[0\]\.files\[0\]: out_dir .* is the same directory as the source files/],
    ];
    const source = `sources:\n  - {name: c, type: generic, preset: openai, files: [${dir}/data/chats.jsonl], language: English}\n`;
    const problems = (yaml: string): string => {
      try {
        parsePipeline(yaml, 'p.yaml');
        return '';
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
      }
    };
    for (const [paths, want] of cases) assert.match(problems(`name: p\n${paths}\n${source}`), want, paths);
    // A glob that reads every Parquet file below a folder would read the shards back; one that cannot reach out_dir is fine.
    const globbed = (pattern: string) => `name: g\nrun_dir: ${dir}/runs\nout_dir: ${dir}/data/out\nsources:\n  - {name: c, type: generic, preset: openai, files: ["${pattern}"], language: English}\n`;
    assert.match(problems(globbed(`${dir}/data/**/*.parquet`)), /out_dir .* is inside the source files of sources\[0\]\.files\[0\]/);
    assert.equal(problems(globbed(`${dir}/data/*.jsonl`)), '');
    // Through the CLI: exit 2, no stack overflow for out_dir: /.
    const file = join(dir, 'root.yaml');
    writeFileSync(file, `name: p\nrun_dir: ${dir}/runs\nout_dir: /\n${source}`);
    const r = runCli(['validate', file]);
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /root\.yaml:3:\d+ out_dir: contains run_dir/);
    assert.doesNotMatch(r.stderr, /Maximum call stack|\n\s+at /);
  });

  it('keeps sibling folders named like out_dir.old-* that it did not mark, removes its own leftovers, adopts an unmarked dataset of its own shape', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const file = pipelineWith(dir, { out });
    // A user's folder that happens to look like a leftover of a killed run (pid 1 is alive, 999999 is not).
    for (const name of ['out.old-999999', 'out.tmp-999998']) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'keep.txt'), 'mine');
    }
    // A dataset an earlier version wrote (no marker, exactly its manifest's files) is still the tool's.
    mkdirSync(join(out, 'data'), { recursive: true });
    writeFileSync(join(out, 'manifest.json'), JSON.stringify({ files: [{ path: 'data/train-00000-of-00001.parquet' }] }));
    writeFileSync(join(out, 'README.md'), 'old card');
    writeFileSync(join(out, 'data', 'train-00000-of-00001.parquet'), 'old shard');
    const first = runCli(['run', file]);
    assert.equal(first.status, 0, first.stderr);
    manifestHashes(out);
    for (const name of ['out.old-999999', 'out.tmp-999998']) assert.equal(readFileSync(join(dir, name, 'keep.txt'), 'utf8'), 'mine', name);
    // A real leftover of a killed export: marked by the tool.
    mkdirSync(join(dir, 'out.tmp-999997'));
    writeFileSync(join(dir, 'out.tmp-999997', OUT_MARKER), readFileSync(join(out, OUT_MARKER)));
    writeFileSync(join(dir, '..out.userlm-data.lock.tmp-999997-0a1b2c3d'), '{}');
    const again = runCli(['run', file, '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(join(dir, 'out.old-999999', 'keep.txt'), 'utf8'), 'mine');
    assert.equal(readFileSync(join(dir, 'out.tmp-999998', 'keep.txt'), 'utf8'), 'mine');
    assert.equal(existsSync(join(dir, 'out.tmp-999997')), false);
    assert.equal(existsSync(join(dir, '..out.userlm-data.lock.tmp-999997-0a1b2c3d')), false);
  });

  it('the per-source summary at the end of a run names stage files removed since their stage finished (to save disk) instead of failing', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const file = pipelineWith(dir, { out });
    const built = await buildDataset(parsePipeline(readFileSync(file, 'utf8'), file), silentLogger);
    await withDb(async (db) => {
      const whole = await sourceFunnels(db, built.results);
      assert.ok(!('missing' in whole));
      assert.deepEqual(whole.map((f) => [f.source, f.in, f.kept]), [['c', 4, 4]]);
      const gone = join(dir, 'runs', 'normalize', 'data.parquet');
      rmSync(gone);
      assert.deepEqual(await sourceFunnels(db, built.results), { missing: [gone] });
    });
  });

  it('two pipelines sharing an out_dir: the second is refused, and a held out_dir lock stops a run', () => {
    const dir = tempDir();
    const out = join(dir, 'shared-out');
    const a = pipelineWith(dir, { out, runs: join(dir, 'runs-a'), name: 'a' });
    const b = pipelineWith(dir, { out, runs: join(dir, 'runs-b'), name: 'b' });
    assert.equal(runCli(['run', a]).status, 0);
    const before = readFileSync(join(out, 'manifest.json'), 'utf8');
    const r = runCli(['run', b]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /shared-out holds the dataset of another pipeline \(.*a\.yaml, run_dir .*runs-a\).*Give this pipeline its own out_dir/);
    assert.equal(readFileSync(join(out, 'manifest.json'), 'utf8'), before);

    // While another live process holds the out_dir lock, an export waits for nobody: it stops.
    const lock = join(dir, '.shared-out.userlm-data.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), started: null }) + '\n');
    writeFileSync(join(out, 'README.md'), 'changed');
    const held = runCli(['run', a]);
    assert.equal(held.status, 1, held.stderr);
    assert.match(held.stderr, new RegExp(`shared-out is in use by another run \\(pid ${process.pid}\\)`));
    assert.equal(readFileSync(join(out, 'README.md'), 'utf8'), 'changed');
  });

  it('writes through a symlinked out_dir and keeps the link', () => {
    const dir = tempDir();
    const target = join(dir, 'elsewhere', 'dataset');
    mkdirSync(target, { recursive: true });
    const link = join(dir, 'out-link');
    symlinkSync(target, link);
    const file = pipelineWith(dir, { out: link });
    for (const round of ['first', 'second']) {
      const r = runCli(['run', file]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(lstatSync(link).isSymbolicLink(), `${round} run: the link is kept`);
      assert.ok(existsSync(join(target, 'manifest.json')), `${round} run: the dataset is in the target`);
      manifestHashes(link);
      writeFileSync(join(target, 'README.md'), 'edited');
    }
  });

  it('a shard edited in place does not touch the run\'s copy, and the next run restores it', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const file = pipelineWith(dir, { out });
    assert.equal(runCli(['run', file]).status, 0);
    const shard = readdirSync(join(out, 'data')).find((f) => f.startsWith('train-'))!;
    const p = writePipeline(dir, readFileSync(file, 'utf8'), 'p2.yaml').pipeline();
    const stageDir = (await withDb((db) => planPipeline(p, STAGES, db))).at(-1)!.dir;
    const stageCopy = join(stageDir, 'data', shard);
    const stageSha = sha256Hex(readFileSync(stageCopy));
    editInPlace(join(out, 'data', shard), 100);
    assert.equal(sha256Hex(readFileSync(stageCopy)), stageSha, "the run's own copy is not the published file");

    const again = runCli(['run', file, '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(events(again.stderr).filter((e) => e.event === 'stage.skip').length, STAGES.length);
    assert.ok(events(again.stderr).some((e) => e.event === 'export'), 'out_dir rewritten');
    manifestHashes(out);
    checkVisibleState(join(dir, 'runs'), out, 'after the repair');
    // Nothing changed since: a no-op run leaves out_dir as it is.
    const noop = runCli(['run', file, '--json']);
    assert.ok(!events(noop.stderr).some((e) => e.event === 'export'));
  });

  it('updates a mount point in place (it cannot be renamed), and only removes files it wrote there', async () => {
    const dir = tempDir();
    const out = join(dir, 'mnt');
    mkdirSync(out);
    const file = pipelineWith(dir, { out });
    if (process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0) {
      // A real mount point: a tmpfs in a private mount namespace, with the file system's own lost+found.
      const log = join(dir, 'mnt.log');
      const script = [
        `mount -t tmpfs -o size=64m tmpfs '${out}'`,
        `mkdir '${out}/lost+found'`,
        `'${process.execPath}' '${CLI}' run '${file}' >'${log}' 2>&1`,
        `printf extra > '${out}/data/stale-shard.parquet'`,
        `'${process.execPath}' '${CLI}' run '${file}' >>'${log}' 2>&1 || true`,
        `cp -r '${out}' '${dir}/seen'`,
      ].join('\n');
      const r = spawnSync('unshare', ['-m', 'sh', '-ec', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stderr}\n${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
      assert.equal(readdirSync(out).length, 0, 'the mount was private to the child');
      const seen = join(dir, 'seen');
      assert.ok(existsSync(join(seen, 'lost+found')));
      manifestHashes(seen);
      const rec = JSON.parse(readFileSync(join(seen, OUT_MARKER), 'utf8')) as { state: string };
      assert.equal(rec.state, 'complete');
      // A file the tool did not write, put into its dataset: refused, not deleted.
      assert.match(readFileSync(log, 'utf8'), /holds files userlm-data did not write besides its dataset \(data\/stale-shard\.parquet\)/);
      assert.equal(readFileSync(join(seen, 'data', 'stale-shard.parquet'), 'utf8'), 'extra');
    }
    // The in-place updater itself, on any machine: a directory declared a mount point.
    const p = writePipeline(dir, readFileSync(file, 'utf8').replace(`out_dir: ${out}`, `out_dir: ${join(dir, 'inplace')}`), 'inplace.yaml').pipeline();
    const run = await import('../../src/stages/recipe.js').then((m) => m.buildDataset(p, silentLogger));
    const stageDir = (await withDb((db) => planPipeline(p, STAGES, db))).at(-1)!.dir;
    const marker = (await readMarker(stageDir))!;
    const inplace = join(dir, 'inplace');
    writeFileSync(join(inplace, 'data', 'old-shard.parquet'), 'x');
    const recPath = join(inplace, OUT_MARKER);
    const rec = JSON.parse(readFileSync(recPath, 'utf8')) as { files: { path: string }[] };
    rec.files.push({ path: 'data/old-shard.parquet' } as never);
    writeFileSync(recPath, JSON.stringify(rec));
    const inodeBefore = statSync(inplace).ino;
    const owner = { runDir: p.config.run_dir, pipelineFile: p.file };
    assert.equal(await exportDataset(stageDir, marker, inplace, silentLogger, owner, { mountPoint: async () => true }), 'written');
    assert.equal(statSync(inplace).ino, inodeBefore, 'updated in place, not replaced');
    assert.equal(existsSync(join(inplace, 'data', 'old-shard.parquet')), false, 'a file the tool wrote and no longer wants is removed');
    assert.equal(JSON.parse(readFileSync(recPath, 'utf8')).state, 'complete');
    manifestHashes(inplace);
    assert.equal(run.exported, 'written');
  });
});

import { copyFile, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDir, syncFile } from '../../core/atomic.js';
import { sha256File } from '../../core/hash.js';
import { makeDir } from '../../core/make-dir.js';
import type { Logger } from '../../core/logger.js';
import type { StageMarker } from '../../core/marker.js';
import { processAlive } from '../../core/process-alive.js';

/**
 * Whether the published file holds the stage file's bytes. A hard link to the stage file
 * (what export makes) is that file: no need to read gigabytes of shards on every no-op run.
 */
async function sameFile(path: string, stagePath: string, bytes: number, sha256: string): Promise<boolean> {
  try {
    const st = await stat(path);
    if (st.size !== bytes) return false;
    const src = await stat(stagePath).catch(() => null);
    if (src && src.ino === st.ino && src.dev === st.dev) return true;
    return (await sha256File(path)).sha256 === sha256;
  } catch {
    return false;
  }
}

async function listAll(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  let ents;
  try {
    ents = await readdir(join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of ents) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listAll(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

/** out_dir.tmp-<pid> and out_dir.old-<pid> of runs that were killed mid-export. */
async function removeStaleSiblings(outDir: string): Promise<void> {
  const prefix = basename(outDir);
  const ents = await readdir(dirname(outDir)).catch(() => [] as string[]);
  for (const e of ents) {
    const m = /^\.(tmp|old)-(\d+)$/.exec(e.slice(prefix.length));
    if (!e.startsWith(prefix) || !m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || !processAlive(pid)) await rm(join(dirname(outDir), e), { recursive: true, force: true });
  }
}

/**
 * Make out_dir hold exactly the shards stage's files. It is rebuilt beside the old one and
 * swapped in with renames, so readers never see a half-written dataset.
 */
export async function exportDataset(stageDir: string, marker: StageMarker, outDir: string, log: Logger): Promise<'unchanged' | 'written'> {
  await removeStaleSiblings(outDir);
  // report.html is written into out_dir after the export (by `run`), not by the shards stage.
  const current = (await listAll(outDir)).filter((p) => p !== 'report.html');
  const wanted = marker.files.map((f) => f.path).sort();
  if (current.length === wanted.length && current.every((p, i) => p === wanted[i])) {
    let same = true;
    for (const f of marker.files) if (!(await sameFile(join(outDir, f.path), join(stageDir, f.path), f.bytes, f.sha256))) same = false;
    if (same) return 'unchanged';
  }
  const tmp = `${outDir}.tmp-${process.pid}`;
  const old = `${outDir}.old-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await makeDir(tmp);
  for (const f of marker.files) {
    const to = join(tmp, f.path);
    await mkdir(dirname(to), { recursive: true });
    // Hard links cost no space; across file systems fall back to a copy.
    await link(join(stageDir, f.path), to).catch(async () => {
      await copyFile(join(stageDir, f.path), to);
      await syncFile(to);
    });
  }
  await mkdir(dirname(outDir), { recursive: true });
  const hadOld = await stat(outDir).then(() => true, () => false);
  for (const d of new Set(marker.files.map((f) => dirname(join(tmp, f.path))))) await syncDir(d);
  await syncDir(tmp);
  // Between these two renames out_dir is briefly absent (never half-written); a run killed
  // there leaves out_dir.tmp-<pid> complete, and the next run rebuilds out_dir.
  if (hadOld) await rename(outDir, old);
  await rename(tmp, outDir);
  await syncDir(dirname(outDir));
  if (hadOld) await rm(old, { recursive: true, force: true });
  log.info('export', `dataset written to ${outDir}/`, { out_dir: outDir });
  return 'written';
}

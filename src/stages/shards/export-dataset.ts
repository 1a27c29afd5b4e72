import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, realpath, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { syncDir, syncFile, writeFileAtomic } from '../../core/atomic.js';
import { ConfigError } from '../../core/errors.js';
import { sha256File } from '../../core/hash.js';
import type { Logger } from '../../core/logger.js';
import { makeDir } from '../../core/make-dir.js';
import type { StageMarker } from '../../core/marker.js';
import { processAlive } from '../../core/process-alive.js';
import { acquireLockFile } from '../../core/run-lock.js';
import { physicalPath } from '../../config/check-paths.js';

/** What marks a directory as written by userlm-data: the only kind it ever replaces. */
export const OUT_MARKER = '.userlm-data-out.json';
/** The out_dir lock when out_dir is a mount point (otherwise it is a sibling, see lockPath). */
const INNER_LOCK = '.userlm-data.lock';
const REPORT_FILE = 'report.html';
const STAGING = '.userlm-data-staging-';

/** A published file as the tool left it: a later edit changes ino or ctime, which touch cannot reset. */
interface OutFile {
  path: string;
  bytes: number;
  sha256: string;
  ino: number;
  ctime_ms: number;
  mtime_ms: number;
}

interface OutRecord {
  tool: 'userlm-data';
  /** The run directory whose dataset this is: another pipeline must not overwrite it. */
  run_dir: string;
  pipeline: string;
  /** 'updating' while a mount point is updated in place (its files may be a mix). */
  state: 'complete' | 'updating';
  files: OutFile[];
}

export interface OutDirOwner {
  runDir: string;
  pipelineFile: string;
}

function foreign(owner: OutDirOwner, outDir: string, message: string): ConfigError {
  return new ConfigError([{ file: owner.pipelineFile, path: 'out_dir', message: `${outDir} ${message}` }]);
}

async function readRecord(dir: string): Promise<OutRecord | null> {
  try {
    const r = JSON.parse(await readFile(join(dir, OUT_MARKER), 'utf8')) as OutRecord;
    return r && r.tool === 'userlm-data' && Array.isArray(r.files) ? r : null;
  } catch {
    return null;
  }
}

/** Where out_dir's files go: through a symlink, into its target (the link is kept). */
async function resolveTarget(outDir: string, owner: OutDirOwner): Promise<string> {
  const st = await lstat(outDir).catch(() => null);
  if (!st?.isSymbolicLink()) return resolve(outDir);
  // A link to a directory that does not exist yet: the dataset is created where it points.
  return realpath(outDir).catch(() => physicalPath(outDir));
}

async function isMountPoint(dir: string): Promise<boolean> {
  const [a, b] = await Promise.all([stat(dir), stat(dirname(dir))]);
  return a.dev !== b.dev || a.ino === b.ino;
}

/** Entries a fresh file system puts in its root: an out_dir holding only these is empty. */
const FS_ENTRIES = new Set(['lost+found']);

/**
 * Whether the tool may write into out_dir: it does not exist, is empty, or holds this
 * pipeline's earlier dataset. Anything else (a user's folder, another pipeline's dataset)
 * is refused before any stage runs, and again under the lock before anything is replaced.
 */
export async function claimOutDir(outDir: string, owner: OutDirOwner): Promise<{ target: string; record: OutRecord | null }> {
  const target = await resolveTarget(outDir, owner);
  const st = await stat(target).catch(() => null);
  if (!st) return { target, record: null };
  if (!st.isDirectory()) throw foreign(owner, outDir, 'is a file, not a directory; point out_dir at a directory of its own, then rerun');
  const record = await readRecord(target);
  if (record) {
    if (record.run_dir !== physicalPath(owner.runDir)) {
      throw foreign(
        owner,
        outDir,
        `holds the dataset of another pipeline (${record.pipeline}, run_dir ${record.run_dir}); two pipelines writing one out_dir would overwrite each other. ` +
          'Give this pipeline its own out_dir, or delete that directory to hand it over, then rerun (finished stages are kept)',
      );
    }
    // A file someone put into the dataset is not the tool's to delete either.
    const listed = new Set(record.files.map((f) => f.path));
    const extra = (await listAll(target)).filter((f) => !listed.has(f) && !f.startsWith(STAGING));
    if (extra.length) {
      throw foreign(
        owner,
        outDir,
        `holds files userlm-data did not write besides its dataset (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', ...' : ''}), and the next export would remove them. ` +
          'Move them out of out_dir, then rerun (finished stages are kept)',
      );
    }
    return { target, record };
  }
  const entries = (await readdir(target)).filter((e) => !FS_ENTRIES.has(e) && e !== INNER_LOCK);
  if (entries.length && !(await legacyDataset(target))) {
    throw foreign(
      owner,
      outDir,
      `already holds files userlm-data did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}), and every run replaces out_dir whole. ` +
        'Point out_dir at a new or empty directory, or move those files away, then rerun (finished stages are kept)',
    );
  }
  return { target, record: null };
}

/**
 * A dataset written before out_dirs were marked: exactly the files its manifest lists, the
 * manifest and the card. It is the tool's own output, so it may be replaced.
 */
async function legacyDataset(target: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as { files?: { path?: unknown }[] };
    if (!Array.isArray(m.files)) return false;
    const want = [...m.files.map((f) => String(f.path)), 'README.md', 'manifest.json'].sort();
    const have = await listAll(target);
    return have.length === want.length && have.every((p, i) => p === want[i]);
  } catch {
    return false;
  }
}

async function listAll(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    // report.html is the tool's too: `run` writes it into out_dir after each export.
    if (!rel && (e.name === OUT_MARKER || e.name === INNER_LOCK || e.name === REPORT_FILE || FS_ENTRIES.has(e.name))) continue;
    if (e.isDirectory()) out.push(...(await listAll(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

async function identity(path: string, rel: string, sha256: string): Promise<OutFile> {
  const st = await stat(path);
  return { path: rel, bytes: st.size, sha256, ino: st.ino, ctime_ms: st.ctimeMs, mtime_ms: st.mtimeMs };
}

/**
 * Whether out_dir holds exactly the stage's files, untouched since the tool wrote them. A file
 * whose identity changed (an edit in place, a copy over it) is hashed: only its bytes decide.
 */
async function upToDate(target: string, record: OutRecord, marker: StageMarker): Promise<OutRecord | null> {
  if (record.state !== 'complete') return null;
  const wanted = marker.files.map((f) => f.path).sort();
  const current = await listAll(target);
  if (current.length !== wanted.length || current.some((p, i) => p !== wanted[i])) return null;
  const files: OutFile[] = [];
  let refreshed = false;
  for (const f of marker.files) {
    const path = join(target, f.path);
    const was = record.files.find((r) => r.path === f.path);
    const now = await identity(path, f.path, f.sha256).catch(() => null);
    if (!now || now.bytes !== f.bytes) return null;
    if (!was || was.sha256 !== f.sha256 || was.ino !== now.ino || was.ctime_ms !== now.ctime_ms || was.mtime_ms !== now.mtime_ms) {
      if ((await sha256File(path)).sha256 !== f.sha256) return null;
      refreshed = true;
    }
    files.push(now);
  }
  return refreshed ? { ...record, files } : record;
}

/**
 * A copy, never a hard link: the shards stage's files must stay intact whatever is done to
 * the published ones, so that a rerun can restore them. FICLONE makes it a free reflink
 * where the file system can (btrfs, XFS) and a plain copy elsewhere.
 */
async function place(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to, constants.COPYFILE_FICLONE);
  await syncFile(to);
}

/**
 * A staging directory killed while its first marker was being written holds nothing but the
 * marker's temp file (writeFileAtomic's `.<name>.tmp-<pid>-<hex>`): it is the tool's own.
 */
async function onlyMarkerInProgress(dir: string): Promise<boolean> {
  const ents = await readdir(dir).catch(() => null);
  return !!ents && ents.length > 0 && ents.every((e) => e.startsWith(`.${OUT_MARKER}.tmp-`));
}

/**
 * out_dir.tmp-<pid>, out_dir.old-<pid> and staged lock files of killed runs; only ones the tool
 * marked (or empty ones). An old-<pid> copy holding a file its record does not list (a user's
 * file that arrived while a killed export was swapping) is kept and returned, never deleted.
 */
async function removeStaleSiblings(target: string): Promise<string[]> {
  const kept: string[] = [];
  const parent = dirname(target);
  const base = basename(target);
  for (const e of await readdir(parent).catch(() => [] as string[])) {
    const dirMatch = e.startsWith(base) ? /^\.(tmp|old)-(\d+)$/.exec(e.slice(base.length)) : null;
    // tempSibling names the staged lock ".<lock name>.tmp-<pid>-<hex>", and the lock name starts with a dot itself.
    const lockMatch = e.startsWith(`..${base}.userlm-data.lock.tmp-`) ? /\.tmp-(\d+)-[0-9a-f]+$/.exec(e) : null;
    const pid = Number((dirMatch ?? lockMatch)?.[dirMatch ? 2 : 1] ?? NaN);
    if (!Number.isInteger(pid) || (pid !== process.pid && processAlive(pid))) continue;
    const path = join(parent, e);
    if (lockMatch) {
      await rm(path, { force: true });
      continue;
    }
    const record = await readRecord(path);
    if (record && dirMatch![1] === 'old') {
      const listed = new Set(record.files.map((f) => f.path));
      if ((await listAll(path).catch(() => [])).some((p) => !listed.has(p))) {
        kept.push(path);
        continue;
      }
    }
    if (record || (await onlyMarkerInProgress(path))) await rm(path, { recursive: true, force: true });
    else await rmdir(path).catch(() => undefined);
  }
  return kept;
}

function lockPath(target: string, mountPoint: boolean): string {
  return mountPoint ? join(target, INNER_LOCK) : join(dirname(target), `.${basename(target)}.userlm-data.lock`);
}

function recordFor(owner: OutDirOwner, state: OutRecord['state'], files: OutFile[]): OutRecord {
  return { tool: 'userlm-data', run_dir: physicalPath(owner.runDir), pipeline: resolve(owner.pipelineFile), state, files };
}

async function writeRecord(dir: string, record: OutRecord): Promise<void> {
  await writeFileAtomic(join(dir, OUT_MARKER), JSON.stringify(record, null, 2) + '\n');
}

/**
 * Files a user put into out_dir while the export was copying (after the check under the
 * lock): renamed aside with the old dataset, they are not the tool's to delete, so out_dir is
 * put back as it was and the export refused. Once out_dir is renamed, a writer that opens a
 * path inside it finds nothing or the new dataset: checking the renamed directory is enough.
 */
async function filesAddedDuringExport(dir: string, owned: ReadonlySet<string>): Promise<string[]> {
  return (await listAll(dir)).filter((f) => !owned.has(f) && !f.startsWith(STAGING));
}

function addedDuringExport(owner: OutDirOwner, outDir: string, added: string[]): ConfigError {
  return foreign(
    owner,
    outDir,
    `received files userlm-data did not write while the dataset was being exported (${added.slice(0, 3).join(', ')}${added.length > 3 ? ', ...' : ''}); ` +
      'they were left where they are and out_dir is as it was. Move them out of out_dir, then rerun (finished stages are kept)',
  );
}

/** Rebuild beside the old one and swap by renames: readers never see a half-written dataset. owned: the old dataset's files, as checked under the lock. */
async function replaceWhole(stageDir: string, marker: StageMarker, target: string, outDir: string, owner: OutDirOwner, hadOld: boolean, owned: ReadonlySet<string>): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}`;
  const old = `${target}.old-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await makeDir(tmp);
  // Marked from the start, so that a killed run's leftover is known to be the tool's.
  await writeRecord(tmp, recordFor(owner, 'updating', []));
  const files: OutFile[] = [];
  for (const f of marker.files) {
    await place(join(stageDir, f.path), join(tmp, f.path));
    files.push(await identity(join(tmp, f.path), f.path, f.sha256));
  }
  await writeRecord(tmp, recordFor(owner, 'complete', files));
  for (const d of new Set(marker.files.map((f) => dirname(join(tmp, f.path))))) await syncDir(d);
  await syncDir(tmp);
  // Between these two renames out_dir is briefly absent (never half-written); a run killed
  // there leaves out_dir.tmp-<pid> complete, and the next run rebuilds out_dir.
  if (hadOld) {
    await rename(target, old);
    const added = await filesAddedDuringExport(old, owned);
    if (added.length) {
      await rename(old, target);
      await rm(tmp, { recursive: true, force: true });
      throw addedDuringExport(owner, outDir, added);
    }
  }
  try {
    await rename(tmp, target);
  } catch (e) {
    // out_dir was made, with files in it, while the first export was copying.
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await rm(tmp, { recursive: true, force: true });
    throw addedDuringExport(owner, outDir, await filesAddedDuringExport(target, owned));
  }
  await syncDir(dirname(target));
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/**
 * A mount point cannot be renamed: its files are replaced one by one, each whole (staged
 * inside it, renamed into place), shards first and manifest.json and the card last. While
 * that goes on the marker says 'updating'; a run killed then leaves a mix that the next run
 * completes. Only files the marker lists as the tool's are ever removed.
 */
async function updateInPlace(stageDir: string, marker: StageMarker, target: string, owner: OutDirOwner, record: OutRecord | null): Promise<void> {
  for (const e of await readdir(target)) {
    if (e.startsWith(STAGING)) await rm(join(target, e), { recursive: true, force: true });
  }
  // While updating, the marker claims both the old files and the new ones, so that a run
  // killed halfway knows every file in out_dir as its own.
  const claimed = new Map((record?.files ?? []).map((f) => [f.path, f]));
  for (const f of marker.files) if (!claimed.has(f.path)) claimed.set(f.path, { ...f, ino: 0, ctime_ms: 0, mtime_ms: 0 });
  await writeRecord(target, recordFor(owner, 'updating', [...claimed.values()]));
  const staging = join(target, `${STAGING}${process.pid}`);
  await makeDir(staging);
  const last = new Set(['manifest.json', 'README.md']);
  const order = [...marker.files.filter((f) => !last.has(f.path)), ...marker.files.filter((f) => last.has(f.path))];
  for (const f of order) await place(join(stageDir, f.path), join(staging, f.path));
  const files: OutFile[] = [];
  for (const f of order) {
    const to = join(target, f.path);
    await mkdir(dirname(to), { recursive: true });
    await rename(join(staging, f.path), to);
    await syncDir(dirname(to));
    files.push(await identity(to, f.path, f.sha256));
  }
  const wanted = new Set(marker.files.map((f) => f.path));
  for (const f of record?.files ?? []) {
    if (!wanted.has(f.path)) await rm(join(target, f.path), { force: true });
  }
  await rm(staging, { recursive: true, force: true });
  await writeRecord(target, recordFor(owner, 'complete', files));
}

/**
 * Make out_dir hold exactly the shards stage's files. Only a directory that does not exist,
 * is empty, or carries this pipeline's marker is ever replaced; through a symlink the target
 * is written; a mount point is updated in place. Two runs never export to one out_dir at once.
 */
export async function exportDataset(
  stageDir: string,
  marker: StageMarker,
  outDir: string,
  log: Logger,
  owner: OutDirOwner,
  effects: { mountPoint?: (dir: string) => Promise<boolean> } = {},
): Promise<'unchanged' | 'written'> {
  let { target } = await claimOutDir(outDir, owner);
  await makeDir(dirname(target));
  const mountPoint = await stat(target).then(() => (effects.mountPoint ?? isMountPoint)(target), () => false);
  const release = await acquireLockFile(lockPath(target, mountPoint), outDir, 'cannot publish the finished dataset');
  try {
    // Again under the lock: another pipeline may have taken out_dir in between.
    const claimed = await claimOutDir(outDir, owner);
    target = claimed.target;
    if (!mountPoint) {
      for (const path of await removeStaleSiblings(target))
        log.warn('export', `${path} is a killed export's copy of an earlier dataset that also holds files userlm-data did not write; it was left as it is: move those files out, then delete it`, { path });
    }
    // What out_dir held as the claim saw it: anything else found there at the swap arrived since.
    const owned = new Set(claimed.record ? claimed.record.files.map((f) => f.path) : await listAll(target).catch(() => []));
    const current = claimed.record ? await upToDate(target, claimed.record, marker) : null;
    if (current) {
      if (current !== claimed.record) await writeRecord(target, current);
      return 'unchanged';
    }
    const exists = await stat(target).then(() => true, () => false);
    if (mountPoint) await updateInPlace(stageDir, marker, target, owner, claimed.record);
    else await replaceWhole(stageDir, marker, target, outDir, owner, exists, owned);
    log.info('export', `dataset written to ${outDir}/`, { out_dir: outDir });
    return 'written';
  } finally {
    await release().catch(() => undefined);
  }
}

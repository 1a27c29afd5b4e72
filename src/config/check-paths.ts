import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { hubCacheDir } from '../hub/hub-cache-dir.js';
import type { PipelineConfig } from './pipeline-config.js';

const GLOB_CHARS = /[*?[]/;

/**
 * The path as the file system will see it: absolute, with symlinks of its longest existing
 * prefix resolved (out_dir may be a link to the run directory, or not exist yet).
 */
export function physicalPath(path: string): string {
  let p = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(p), ...rest);
    } catch {
      // A link to something that does not exist yet still says where writes would go.
      const link = (() => {
        try {
          return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : null;
        } catch {
          return null;
        }
      })();
      if (link !== null && rest.length < 40) return physicalPath(join(resolve(dirname(p), link), ...rest));
      if (dirname(p) === p) return join(p, ...rest);
      rest.unshift(basename(p));
      p = dirname(p);
    }
  }
}

/** The fixed part of a file pattern (the file itself when it has no glob) and the glob segments after it. */
function splitPattern(pattern: string): { root: string; rest: string[] } {
  const parts = pattern.split('/');
  const at = parts.findIndex((s) => GLOB_CHARS.test(s));
  if (at < 0) return { root: pattern, rest: [] };
  return { root: parts.slice(0, at).join('/') || (pattern.startsWith('/') ? '/' : '.'), rest: parts.slice(at) };
}

function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r) && r.split(sep)[0] !== '..');
}

/**
 * out_dir is replaced by every run, so it must not be, hold, or sit inside anything the run
 * reads or keeps: the run directory (with the intents cache), a source file or the folder
 * a source pattern reads, the Hugging Face cache. Paths are compared after symlinks resolve.
 */
export function checkPaths(cfg: PipelineConfig): { path: (string | number)[]; message: string }[] {
  if (typeof cfg.out_dir !== 'string' || typeof cfg.run_dir !== 'string') return [];
  const out = physicalPath(cfg.out_dir);
  const issues: { path: (string | number)[]; message: string }[] = [];
  const clash = (what: string, other: string): string | null => {
    if (out === other) return `is the same directory as ${what}`;
    if (within(other, out)) return `contains ${what}`;
    if (within(out, other)) return `is inside ${what}`;
    return null;
  };
  const fix = 'every run replaces out_dir whole; point it at a directory of its own (the default is out/<name>)';
  const runClash = clash(`run_dir (${cfg.run_dir})`, physicalPath(cfg.run_dir));
  if (runClash) issues.push({ path: ['out_dir'], message: `${runClash}: ${fix}` });
  const sources = Array.isArray(cfg.sources) ? cfg.sources : [];
  sources.forEach((s, i) => {
    if (!s || !Array.isArray(s.files)) return;
    s.files.forEach((f, j) => {
      if (typeof f !== 'string') return;
      const { root, rest } = splitPattern(f);
      const physicalRoot = physicalPath(root);
      let c = clash(`the source files of sources[${i}].files[${j}] (${f})`, physicalRoot);
      // out_dir under a glob's folder is a clash only if the glob can reach files in it
      // (data/*.jsonl cannot reach data/out/...; data/**/*.parquet reads the shards).
      if (c && c.startsWith('is inside') && rest.length && !rest.includes('**') && relative(physicalRoot, out).split(sep).length >= rest.length) c = null;
      if (c) issues.push({ path: ['sources', i, 'files', j], message: `out_dir (${cfg.out_dir}) ${c}: ${fix}` });
    });
  });
  if (sources.some((s) => s && s.hub && !s.files)) {
    const c = clash(`the Hugging Face cache (${hubCacheDir()})`, physicalPath(hubCacheDir()));
    if (c) issues.push({ path: ['out_dir'], message: `${c}: ${fix}` });
  }
  if (dirname(out) === out) issues.push({ path: ['out_dir'], message: `is the root of the file system: ${fix}` });
  return issues;
}

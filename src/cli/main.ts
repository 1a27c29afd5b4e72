#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { tooManyOpenFiles } from '../core/fs-failure.js';

/**
 * Node's module loader reports a file it could not open for lack of descriptors as missing
 * (ERR_MODULE_NOT_FOUND naming a file that is there). Such an error is the open-file limit.
 */
function moduleNotOpened(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') return false;
  const named = /Cannot find (?:package|module) '([^']+)'/.exec(String(err.message))?.[1];
  // Without descriptors the loader cannot read a package's package.json and falls back to
  // its legacy index.js: the package's directory is there even when that file is not.
  return !!named && named.startsWith('/') && (existsSync(named) || existsSync(dirname(named)));
}

// The CLI is loaded by a dynamic import: loading it opens a hundred module files at once, and
// under a low open-file limit (ulimit -n 80) that fails before any error handling exists,
// as an EMFILE stack trace. Caught here, it is said plainly.
try {
  const { main } = await import('./program.js');
  process.exitCode = await main(process.argv);
} catch (e) {
  const limit = tooManyOpenFiles(moduleNotOpened(e) ? Object.assign(new Error(`EMFILE: cannot open ${String((e as Error).message).split('\n')[0]}`), { code: 'EMFILE' }) : e);
  if (!limit) throw e;
  process.stderr.write(`error: ${limit.message}\n`);
  process.exitCode = limit.exitCode;
}

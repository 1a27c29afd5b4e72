#!/usr/bin/env node
import { tooManyOpenFiles } from '../core/fs-failure.js';

// The CLI is loaded by a dynamic import: loading it opens a hundred module files at once, and
// under a low open-file limit (ulimit -n 80) that fails before any error handling exists,
// as an EMFILE stack trace. Caught here, it is said plainly.
try {
  const { main } = await import('./program.js');
  process.exitCode = await main(process.argv);
} catch (e) {
  const limit = tooManyOpenFiles(e);
  if (!limit) throw e;
  process.stderr.write(`error: ${limit.message}\n`);
  process.exitCode = limit.exitCode;
}

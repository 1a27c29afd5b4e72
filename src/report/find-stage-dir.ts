import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The directory of a stage in a run directory: `<run>/<stage>` (the layout main is moving
 * to) or `<run>/NN-<stage>` (the numbered one). The only place the report knows either.
 */
export async function findStageDir(runDir: string, stage: string): Promise<string | null> {
  const plain = join(runDir, stage);
  if (await stat(plain).then((s) => s.isDirectory(), () => false)) return plain;
  const ents = await readdir(runDir).catch(() => [] as string[]);
  const numbered = ents.filter((e) => /^\d+-/.test(e) && e.slice(e.indexOf('-') + 1) === stage).sort();
  return numbered.length ? join(runDir, numbered[numbered.length - 1]!) : null;
}

import { stat } from 'node:fs/promises';
import { stageDir } from '../core/runner.js';

/** The directory of a finished or partial stage in a run directory, or null when it is absent. */
export async function findStageDir(runDir: string, stage: string): Promise<string | null> {
  const dir = stageDir(runDir, { name: stage });
  return (await stat(dir).then((s) => s.isDirectory(), () => false)) ? dir : null;
}

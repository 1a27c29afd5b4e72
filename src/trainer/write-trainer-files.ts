import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CHAT_TEMPLATE } from '../stages/tokenize/chat-format.js';
import { axolotlConfig } from './axolotl-config.js';
import { launchCommand, launchScript, sbatchScript } from './launch-script.js';
import type { TrainingPlan } from './training-plan.js';
import { TRL_SCRIPT, trlConfig } from './trl-config.js';

export interface WrittenTrainerFiles {
  files: string[];
  launch: string;
  command: string;
}

/** Config, chat template, launch script and Slurm template for one trainer, into plan.configDir. */
export async function writeTrainerFiles(p: TrainingPlan): Promise<WrittenTrainerFiles> {
  await mkdir(p.configDir, { recursive: true });
  const out: Record<string, string> = {
    'chat_template.jinja': CHAT_TEMPLATE + '\n',
    'launch.sh': launchScript(p),
    'train.sbatch': sbatchScript(p),
  };
  if (p.trainer === 'trl') {
    out['trl.yaml'] = stringify(trlConfig(p), { lineWidth: 0 });
    out['train_trl.py'] = TRL_SCRIPT;
  } else {
    out['axolotl.yaml'] = stringify(axolotlConfig(p), { lineWidth: 0 });
  }
  const files: string[] = [];
  for (const [name, text] of Object.entries(out)) {
    const path = join(p.configDir, name);
    await writeFile(path, text);
    if (name.endsWith('.sh') || name.endsWith('.sbatch')) await chmod(path, 0o755);
    files.push(path);
  }
  return { files, launch: join(p.configDir, 'launch.sh'), command: launchCommand(p) };
}

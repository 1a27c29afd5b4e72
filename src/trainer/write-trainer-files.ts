import { readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { accelerateConfig } from './accelerate-config.js';
import { axolotlConfig, deepspeedZero3 } from './axolotl-config.js';
import { launchCommand, launchScript, sbatchScript } from './launch-script.js';
import type { TrainerName, TrainingPlan } from './training-plan.js';
import { TRL_SCRIPT, trlConfig } from './trl-config.js';

export interface WrittenTrainerFiles {
  files: string[];
  launch: string;
  command: string;
}

/** The pinned Python stack of a trainer (src/trainer/requirements-<name>.txt in the package). */
export function trainerRequirements(trainer: TrainerName): string {
  return readFileSync(new URL(`../../../src/trainer/requirements-${trainer}.txt`, import.meta.url), 'utf8');
}

/** The axolotl dataset type's Python package (src/trainer/userlm_axolotl in the package), by file name. */
export function axolotlStrategyFiles(): Record<string, string> {
  const read = (name: string) => readFileSync(new URL(`../../../src/trainer/userlm_axolotl/${name}`, import.meta.url), 'utf8');
  return { 'userlm_axolotl/__init__.py': read('__init__.py'), 'userlm_axolotl/chat.py': read('chat.py') };
}

/** Config, chat template, launch script and Slurm template for one trainer, into plan.configDir. */
export async function writeTrainerFiles(p: TrainingPlan): Promise<WrittenTrainerFiles> {
  await mkdir(p.configDir, { recursive: true });
  const out: Record<string, string> = {
    'chat_template.jinja': p.format.template,
    'requirements.txt': trainerRequirements(p.trainer),
    'launch.sh': launchScript(p),
    'train.sbatch': sbatchScript(p),
  };
  if (p.trainer === 'trl') {
    out['accelerate.yaml'] = stringify(accelerateConfig(p), { lineWidth: 0, version: '1.1' });
    out['trl.yaml'] = stringify(trlConfig(p), { lineWidth: 0, version: '1.1' });
    out['train_trl.py'] = TRL_SCRIPT;
  } else {
    out['axolotl.yaml'] = stringify(axolotlConfig(p), { lineWidth: 0, version: '1.1' });
    Object.assign(out, axolotlStrategyFiles());
    await mkdir(join(p.configDir, 'userlm_axolotl'), { recursive: true });
    if (p.sharding === 'deepspeed') out['deepspeed_zero3.json'] = JSON.stringify(deepspeedZero3(), null, 2) + '\n';
  }
  // YAML 1.1 (PyYAML's dialect) quotes no/yes/on/off, which PyYAML would read as booleans.
  const files: string[] = [];
  for (const [name, text] of Object.entries(out)) {
    const path = join(p.configDir, name);
    await writeFile(path, text);
    if (name.endsWith('.sh') || name.endsWith('.sbatch')) await chmod(path, 0o755);
    files.push(path);
  }
  return { files, launch: join(p.configDir, 'launch.sh'), command: launchCommand(p) };
}

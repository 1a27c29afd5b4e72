import { spawn, spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserlmError } from '../core/errors.js';
import { formatEstimate, type Sharding } from '../trainer/memory-estimate.js';
import { DEFAULT_BASE_MODEL } from '../trainer/paper-hyperparameters.js';
import { planTraining, type TrainerName } from '../trainer/training-plan.js';
import { writeTrainerFiles } from '../trainer/write-trainer-files.js';

const INSTALL: Record<TrainerName, { probe: string[]; hint: string }> = {
  trl: {
    probe: ['accelerate', 'python3'],
    hint: 'TRL is not installed here. Install the pinned stack with: pip install -r <config-dir>/requirements.txt (CUDA PyTorch from https://pytorch.org/get-started/locally/), or rerun with --dry-run to only write the config.',
  },
  axolotl: {
    probe: ['axolotl'],
    hint: "axolotl is not installed here. Install it with: pip install --no-build-isolation 'axolotl[flash-attn,deepspeed]' (see the axolotl docs for the CUDA requirements), or rerun with --dry-run to only write the config.",
  },
};

// A usage error (exit 2) through commander, like every other command's option checks.
function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1 (got ${v})`);
    return n;
  };
}

function installed(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
}

function trlImportable(): boolean {
  return spawnSync('python3', ['-c', 'import trl, datasets, yaml'], { stdio: 'ignore' }).status === 0;
}

interface TrainFlags {
  trainer: TrainerName;
  baseModel: string;
  gpus: number;
  nodes: number;
  configDir?: string;
  dryRun: boolean;
  sharding?: Sharding;
  globalBatch: number;
  microBatch: number;
  gpuMemoryGb: number;
  maxSteps?: number;
  saveSteps: number;
  cpu: boolean;
}

export function trainCommand(): Command {
  return new Command('train')
    .description('Hand a finished dataset to a GPU trainer: write its config, chat template and launch scripts, then launch (unless --dry-run).')
    .argument('<out-dir>', 'a finished dataset (out_dir of a run, e.g. out/sample)')
    .addOption(new Option('--trainer <name>', 'trainer to configure').choices(['trl', 'axolotl']).makeOptionMandatory())
    .option('--base-model <id>', 'Hugging Face model id or local path of the Llama-3 family base model', DEFAULT_BASE_MODEL)
    .option('--gpus <n>', 'GPUs per node', positiveInt('--gpus'), 8)
    .option('--nodes <n>', 'machines', positiveInt('--nodes'), 1)
    .option('--config-dir <dir>', 'where to write the files (default: <out-dir>-train/<trainer>)')
    .addOption(new Option('--sharding <kind>', 'fsdp (full shard), deepspeed (ZeRO-3) or ddp; default fsdp for models of 7B parameters or more').choices(['fsdp', 'deepspeed', 'ddp']))
    .option('--global-batch <n>', 'sequences per optimizer step, whatever the number of devices', positiveInt('--global-batch'), 1024)
    .option('--micro-batch <n>', 'sequences per device per forward pass (largest divisor of the per-device share up to this)', positiveInt('--micro-batch'), 4)
    .option('--gpu-memory-gb <n>', 'memory of one GPU, for the memory check', positiveInt('--gpu-memory-gb'), 80)
    .option('--max-steps <n>', 'stop after this many optimizer steps (default: one epoch)', positiveInt('--max-steps'))
    .option('--save-steps <n>', 'optimizer steps between checkpoints', positiveInt('--save-steps'), 50)
    .option('--cpu', 'train with CPU processes (gloo) instead of GPUs: the CI check of the hand-off', false)
    .option('--dry-run', 'write the files and print the launch command without running it', false)
    .action(async (outDir: string, o: TrainFlags) => {
      const configDir = o.configDir ?? join(dirname(outDir), `${basename(outDir)}-train`, o.trainer);
      const plan = await planTraining(outDir, {
        trainer: o.trainer,
        baseModel: o.baseModel,
        gpus: o.gpus,
        nodes: o.nodes,
        configDir,
        ...(o.sharding ? { sharding: o.sharding } : {}),
        globalBatch: o.globalBatch,
        microBatch: o.microBatch,
        gpuMemoryGb: o.gpuMemoryGb,
        maxSteps: o.maxSteps ?? null,
        saveSteps: o.saveSteps,
        cpu: o.cpu,
      });
      const w = await writeTrainerFiles(plan);
      process.stdout.write(
        `wrote ${w.files.length} files to ${plan.configDir}/ (${w.files.map((f) => basename(f)).join(', ')})\n` +
          `global batch ${plan.globalBatch} = ${plan.batch.microBatch} per GPU x ${plan.batch.gradientAccumulation} accumulation x ${plan.batch.world} GPUs; lr ${plan.learningRate}; sequence ${plan.maxSeqLen}; format ${plan.format.name}; base model ${plan.baseModel}\n` +
          `${formatEstimate(plan.memory, plan.sharding, plan.batch.world)}${plan.cpu ? ' (not checked: --cpu)' : `; fits ${(plan.gpuMemoryBytes / 1e9).toFixed(0)} GB`}\n` +
          `launch (per node): ${w.command}\n` +
          `  via ${w.launch}, or sbatch ${join(plan.configDir, 'train.sbatch')} on Slurm\n`,
      );
      if (o.dryRun) return;
      const need = INSTALL[o.trainer];
      if (!need.probe.every(installed) || (o.trainer === 'trl' && !trlImportable())) throw new UserlmError(need.hint);
      const code = await new Promise<number>((resolveCode) => {
        const child = spawn('bash', [w.launch], { stdio: 'inherit' });
        child.on('close', (c) => resolveCode(c ?? 1));
        child.on('error', () => resolveCode(1));
      });
      if (code !== 0) throw new UserlmError(`the trainer exited with code ${code}; its output is above`);
    });
}

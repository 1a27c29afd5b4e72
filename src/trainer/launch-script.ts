import type { TrainingPlan } from './training-plan.js';

/** The command one node runs; distributed settings come from the environment the script sets. */
export function launchCommand(p: TrainingPlan): string {
  if (p.trainer === 'trl') {
    return (
      `accelerate launch --config_file "${p.configDir}/accelerate.yaml" --num_machines "$NODES" --num_processes "$((NODES * GPUS_PER_NODE))" --machine_rank "$NODE_RANK" ` +
      '--main_process_ip "$MASTER_ADDR" --main_process_port "$MASTER_PORT" ' +
      `"${p.configDir}/train_trl.py" "${p.configDir}/trl.yaml"`
    );
  }
  // axolotl takes config overrides as options; the accumulation is the one launch.sh derives
  // from the real world size. PYTHONPATH lets axolotl import the userlm_axolotl dataset type.
  return (
    `env PYTHONPATH="${p.configDir}\${PYTHONPATH:+:$PYTHONPATH}" axolotl train "${p.configDir}/axolotl.yaml" --gradient-accumulation-steps "$GRAD_ACCUM" --launcher torchrun -- --nnodes "$NODES" --nproc_per_node "$GPUS_PER_NODE" ` +
    '--node_rank "$NODE_RANK" --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT"'
  );
}

/**
 * launch.sh: run it once per node. NODE_RANK and MASTER_ADDR default to a single machine; on
 * several machines set them (or use train.sbatch, which does). NODES and GPUS_PER_NODE may
 * differ from the plan's: the accumulation follows them, the global batch does not.
 */
export function launchScript(p: TrainingPlan): string {
  return `#!/usr/bin/env bash
# Written by userlm-data train: ${p.trainer} on ${p.datasetDir}, base model ${p.baseModel}.
# Global batch ${p.globalBatch} = ${p.batch.microBatch} per device x accumulation x devices (${p.batch.gradientAccumulation} x ${p.gpus * p.nodes} as planned).
set -euo pipefail
NODES="\${NODES:-${p.nodes}}"
GPUS_PER_NODE="\${GPUS_PER_NODE:-${p.gpus}}"
NODE_RANK="\${NODE_RANK:-0}"
MASTER_ADDR="\${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="\${MASTER_PORT:-29500}"
GLOBAL_BATCH=${p.globalBatch}
MICRO_BATCH=${p.batch.microBatch}
WORLD=$((NODES * GPUS_PER_NODE))
if (( GLOBAL_BATCH % (MICRO_BATCH * WORLD) )); then
  echo "launch.sh: a global batch of $GLOBAL_BATCH cannot be split over $WORLD devices at $MICRO_BATCH per device; rerun userlm-data train with --nodes/--gpus for this cluster" >&2
  exit 2
fi
GRAD_ACCUM=$((GLOBAL_BATCH / (MICRO_BATCH * WORLD)))
echo "launch.sh: $NODES node(s) x $GPUS_PER_NODE = $WORLD processes; global batch $GLOBAL_BATCH = $MICRO_BATCH x $GRAD_ACCUM accumulation x $WORLD" >&2
exec ${launchCommand(p)}
`;
}

export function sbatchScript(p: TrainingPlan): string {
  return `#!/usr/bin/env bash
# Slurm template written by userlm-data train; adjust partition, account and time.
# Requeued or resubmitted, it resumes from the newest checkpoint in ${p.configDir}/checkpoints.
#SBATCH --job-name=userlm-${p.trainer}
#SBATCH --nodes=${p.nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=${p.gpus}
#SBATCH --exclusive
#SBATCH --requeue
#SBATCH --time=48:00:00
set -euo pipefail
# The node count Slurm really gave; launch.sh derives the accumulation from it, so the
# global batch stays ${p.globalBatch} (sbatch --nodes=N overrides the line above).
export NODES="$SLURM_NNODES"
export GPUS_PER_NODE=${p.gpus}
export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
export MASTER_PORT=29500
# One launcher per node; each learns its rank from Slurm.
srun --kill-on-bad-exit=1 bash -c 'NODE_RANK="$SLURM_NODEID" exec "${p.configDir}/launch.sh"'
`;
}

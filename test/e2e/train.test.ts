import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { CHAT_FORMATS } from '../../src/stages/tokenize/chat-format.js';
import { estimateMemory } from '../../src/trainer/memory-estimate.js';
import { batchPlan } from '../../src/trainer/paper-hyperparameters.js';
import { assertFits } from '../../src/trainer/training-plan.js';
import { ROOT, runCli, samplePipelineYaml, tempDir, writePipeline } from '../helpers.js';

const fixture = <T>(name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', name), 'utf8')) as T;
const trl = fixture<{ fields: Record<string, string[]> }>('trl-sft-config-fields.json');
const axolotl = fixture<{ top_level: Record<string, string[]>; special_tokens: string[]; sft_dataset: string[] }>('axolotl-config-fields.json');

function unknownKeys(obj: Record<string, unknown>, known: Iterable<string>): string[] {
  const k = new Set(known);
  return Object.keys(obj).filter((x) => !k.has(x));
}

describe('userlm-data train', () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  before(async () => {
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    await buildDataset(pipeline(), silentLogger);
  });

  it('--trainer trl --dry-run prints the launch command and writes a config of SFTConfig fields only', () => {
    const r = runCli(['train', out, '--trainer', 'trl', '--dry-run', '--gpus', '8', '--nodes', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /launch \(per node\): accelerate launch --config_file ".*accelerate\.yaml" --num_machines "\$NODES" .*--machine_rank "\$NODE_RANK" --main_process_ip "\$MASTER_ADDR"/);
    const cdir = join(dir, 'out-train', 'trl');
    const cfg = parseYaml(readFileSync(join(cdir, 'trl.yaml'), 'utf8'));
    // make test-trainer holds every key to the installed SFTConfig; this list is TRL's source.
    assert.deepEqual(unknownKeys(cfg.sft, [...Object.values(trl.fields).flat(), 'warmup_steps', 'save_steps', 'save_total_limit', 'use_cpu', 'gradient_checkpointing_kwargs', 'weight_decay', 'max_grad_norm', 'seed', 'eval_steps']), []);
    assert.equal(cfg.sft.learning_rate, 2e-5);
    assert.equal(cfg.sft.max_length, 2048);
    assert.equal(cfg.sft.completion_only_loss, true);
    assert.equal(cfg.sft.per_device_train_batch_size * cfg.sft.gradient_accumulation_steps * 16, 1024);
    assert.equal(cfg.sft.save_strategy, 'steps');
    assert.equal(cfg.sft.warmup_steps, 0.03);
    assert.equal(cfg.model.base_model, 'meta-llama/Llama-3.1-8B');
    assert.equal(cfg.model.template_trailer, '<|start_header_id|>user<|end_header_id|>');
    const acc = parseYaml(readFileSync(join(cdir, 'accelerate.yaml'), 'utf8'));
    assert.equal(acc.distributed_type, 'FSDP');
    assert.equal(acc.mixed_precision, 'bf16');
    assert.equal(acc.num_processes, 16);
    assert.match(readFileSync(join(cdir, 'requirements.txt'), 'utf8'), /^trl==1\.13\.0$/m);
    assert.equal(cfg.model.end_token, '<|endconversation|>');
    assert.match(cfg.data.train[0], /out\/data\/train-00000-of-00001\.parquet$/);
    assert.equal(readFileSync(join(cdir, 'chat_template.jinja'), 'utf8'), CHAT_FORMATS['userlm-8b'].template);
    const script = readFileSync(join(cdir, 'train_trl.py'), 'utf8');
    assert.match(script, /apply_chat_template\(row\["messages"\], tokenize=False, add_generation_prompt=True\)/);
    assert.match(script, /add_tokens\(\[AddedToken\(m\["end_token"\], special=False/);
    assert.match(script, /get_last_checkpoint/);
    assert.match(script, /generation_config\.eos_token_id = eot/);
    const sbatch = readFileSync(join(cdir, 'train.sbatch'), 'utf8');
    assert.match(sbatch, /#SBATCH --nodes=2/);
    assert.match(sbatch, /MASTER_ADDR="\$\(scontrol show hostnames/);
    assert.match(sbatch, /NODE_RANK="\$SLURM_NODEID"/);
  });

  it('--trainer axolotl --dry-run writes a config of axolotl schema fields, training only the flagged target', () => {
    const r = runCli(['train', out, '--trainer', 'axolotl', '--dry-run', '--gpus', '4']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /axolotl train ".*axolotl\.yaml" --gradient-accumulation-steps "\$GRAD_ACCUM" --launcher torchrun -- --nnodes "\$NODES" --nproc_per_node "\$GPUS_PER_NODE" --node_rank "\$NODE_RANK" --master_addr "\$MASTER_ADDR"/);
    const cfg = parseYaml(readFileSync(join(dir, 'out-train', 'axolotl', 'axolotl.yaml'), 'utf8'));
    assert.deepEqual(unknownKeys(cfg, Object.values(axolotl.top_level).flat()), []);
    assert.deepEqual(unknownKeys(cfg.special_tokens, axolotl.special_tokens), []);
    for (const ds of [...cfg.datasets, ...cfg.test_datasets]) {
      assert.deepEqual(unknownKeys(ds, axolotl.sft_dataset), []);
      assert.equal(ds.type, 'userlm_axolotl.chat');
      assert.equal(ds.field_messages, 'chat');
      assert.equal(ds.message_field_training, 'train');
      assert.deepEqual(ds.roles_to_train, []);
    }
    assert.equal(cfg.micro_batch_size * cfg.gradient_accumulation_steps * 4, 1024);
    assert.deepEqual(cfg.special_tokens.additional_special_tokens, ['<|endconversation|>']);
    assert.equal(cfg.sequence_len, 2048);
    assert.equal(cfg.auto_resume_from_checkpoints, true);
    assert.deepEqual(cfg.fsdp, ['full_shard', 'auto_wrap']);
    assert.equal(cfg.chat_template_jinja, CHAT_FORMATS['userlm-8b'].template);
    // The dataset type axolotl imports builds the chat list at load time; launch.sh puts it on PYTHONPATH.
    const strategy = readFileSync(join(dir, 'out-train', 'axolotl', 'userlm_axolotl', 'chat.py'), 'utf8');
    assert.match(strategy, /^def load\(tokenizer, cfg, ds_cfg=None, processor=None\):/m);
    assert.match(strategy, /\{"role": "user", "content": target, "train": True\}/);
    assert.match(readFileSync(join(dir, 'out-train', 'axolotl', 'launch.sh'), 'utf8'), /env PYTHONPATH=".*out-train\/axolotl\$\{PYTHONPATH:\+:\$PYTHONPATH\}" axolotl train/);
  });

  it('--dry-run on 1, 2 and 8 nodes of 8 x 80 GB: the same global batch, an 8B plan under 80 GB per GPU', () => {
    for (const nodes of [1, 2, 8]) {
      const r = runCli(['train', out, '--trainer', 'trl', '--dry-run', '--gpus', '8', '--nodes', String(nodes), '--config-dir', join(dir, `n${nodes}`)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`global batch 1024 = \\d+ per GPU x \\d+ accumulation x ${8 * nodes} GPUs`));
      const total = Number(/total ([\d.]+) GB; fits 80 GB/.exec(r.stdout)?.[1]);
      assert.ok(total > 0 && total < 80, r.stdout);
      assert.match(r.stdout, /fsdp, sharded over/);
    }
  });

  it('refuses a plan that cannot fit: an 8B model replicated (DDP), or sharded over too few GPUs', () => {
    const ddp = runCli(['train', out, '--trainer', 'trl', '--dry-run', '--gpus', '8', '--sharding', 'ddp', '--config-dir', join(dir, 'ddp')]);
    assert.equal(ddp.status, 1);
    assert.match(ddp.stderr, /this plan does not fit: memory per GPU \(ddp, replicated; 8\.03B parameters\).*Shard the model/);
    const shape = { hidden: 4096, layers: 32, intermediate: 14336, heads: 32, kvHeads: 8, vocab: 128256 };
    const one = estimateMemory(shape, { sharding: 'fsdp', world: 1, microBatch: 4, seqLen: 2048 });
    assert.ok(one.optimizer > 60e9, 'fp32 Adam moments of 8B parameters on one GPU');
    assert.throws(() => assertFits(one, 80e9, 'fsdp', 1), /does not fit.*Use more GPUs/);
    const eight = estimateMemory(shape, { sharding: 'fsdp', world: 8, microBatch: 4, seqLen: 2048 });
    assert.doesNotThrow(() => assertFits(eight, 80e9, 'fsdp', 8));
  });

  it('without --dry-run and no trainer installed, says how to install it', () => {
    const empty = join(dir, 'nobin');
    mkdirSync(empty);
    symlinkSync('/bin/bash', join(empty, 'bash'));
    const r = runCli(['train', out, '--trainer', 'axolotl'], ROOT, { PATH: empty });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /axolotl is not installed here\. Install it with: pip install/);
  });

  it('refuses a GPU count the global batch cannot be split over, and a dataset that is not one', () => {
    assert.equal(batchPlan(1024, 3, 4), null);
    assert.deepEqual(batchPlan(1024, 64, 32), { microBatch: 16, gradientAccumulation: 1, world: 64 });
    const r = runCli(['train', join(dir, 'nowhere'), '--trainer', 'trl', '--dry-run']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /no manifest\.json; pass the out_dir of a finished run/);
  });
});

// make test-trainer: a real TRL run of the hand-off, two CPU processes (gloo) through the
// generated launch.sh, on a tiny random Llama with the bundled tokenizer. Needs the venv the
// Make target builds (PATH has its bin first); fails, never skips, without it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { defaultTokenizerPath } from '../../src/stages/tokenize/load-tokenizer.js';
import { ROOT, runCli, samplePipelineYaml, tempDir, withDb, writePipeline } from '../helpers.js';
import { referenceIds } from '../reference-tokenizer.js';

const PY = join(ROOT, 'test', 'python');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function sh(cmd: string, args: string[], env: Record<string, string> = {}): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { status: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}

describe('TRL trains on the shards through launch.sh, 2 CPU processes', () => {
  const dir = tempDir('userlm-trainer-');
  const out = join(dir, 'out');
  const model = join(dir, 'tiny-llama');
  const cdir = join(dir, 'out-train', 'trl');
  const ckpt = join(cdir, 'checkpoints');
  const dump = join(dir, 'prepared.jsonl');
  let dry = '';
  let first = { status: -1, out: '' };

  const train = (maxSteps: number) =>
    runCli(['train', out, '--trainer', 'trl', '--base-model', model, '--cpu', '--gpus', '2', '--global-batch', '8', '--micro-batch', '2', '--max-steps', String(maxSteps), '--save-steps', '1', '--dry-run']);

  before(async () => {
    const py = sh('python', ['-c', 'import trl, transformers, accelerate, datasets, torch; print(trl.__version__, transformers.__version__)']);
    assert.equal(py.status, 0, `the trainer venv is missing (run make test-trainer): ${py.out}`);
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    await buildDataset(pipeline(), silentLogger);
    const made = sh('python', [join(PY, 'make_tiny_llama.py'), defaultTokenizerPath(), model]);
    assert.equal(made.status, 0, made.out);
    const r = train(2);
    assert.equal(r.status, 0, r.stderr);
    dry = r.stdout;
    first = sh('bash', [join(cdir, 'launch.sh')], { MASTER_PORT: String(await freePort()), USERLM_DUMP_PREPARED: dump });
  });

  it('runs world size 2 with the global batch the dry run printed', () => {
    assert.match(dry, /global batch 8 = 2 per GPU x 2 accumulation x 2 GPUs/);
    assert.equal(first.status, 0, first.out.slice(-6000));
    assert.match(first.out, /userlm-data: world size 2, global batch 8 = 2 per device x 2 accumulation x 2/);
    assert.match(first.out, /userlm-data: rank 0 of 2 processes ready/);
    assert.match(first.out, /userlm-data: rank 1 of 2 processes ready/);
    const state = JSON.parse(readFileSync(join(ckpt, 'checkpoint-2', 'trainer_state.json'), 'utf8')) as { global_step: number; train_batch_size: number };
    assert.equal(state.global_step, 2);
  });

  it('trains on exactly the generated turn (newline, target, <|eot_id|>) and sees the shards\' num_tokens', async () => {
    const prepared = readFileSync(dump, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { input_ids: number[]; trained: number[] });
    const rows = await withDb((db) =>
      db.all<{ target: string; num_tokens: number; num_target_tokens: number }>(
        `SELECT target, num_tokens, num_target_tokens FROM read_parquet(${JSON.stringify(readdirSync(join(out, 'data')).filter((f) => f.startsWith('train-')).sort().map((f) => join(out, 'data', f))).replace(/"/g, "'")})`,
      ),
    );
    assert.equal(prepared.length, rows.length);
    assert.ok(rows.length > 50);
    for (const [i, r] of rows.entries()) {
      const p = prepared[i]!;
      assert.equal(p.input_ids.length, Number(r.num_tokens), `row ${i}: TRL's length`);
      assert.deepEqual(p.trained, [...(await referenceIds(`\n${r.target}`)), 128009], `row ${i}: the loss mask`);
      assert.equal(p.trained.length, Number(r.num_target_tokens));
      assert.notEqual(p.input_ids[0], 128000, 'no begin-of-text');
    }
  });

  it('saves a model whose generation stops at <|eot_id|> and whose tokenizer has <|endconversation|> as one token', () => {
    const gen = JSON.parse(readFileSync(join(ckpt, 'generation_config.json'), 'utf8')) as { eos_token_id: number | number[] };
    assert.deepEqual([gen.eos_token_id].flat(), [128009]);
    const tok = sh('python', ['-c', `from transformers import AutoTokenizer; t = AutoTokenizer.from_pretrained(${JSON.stringify(ckpt)}); print(t.encode("<|endconversation|>", add_special_tokens=False), t.eos_token)`]);
    assert.equal(tok.status, 0, tok.out);
    assert.match(tok.out, /\[128256\] <\|eot_id\|>/);
  });

  it('a rerun resumes from the newest checkpoint', async () => {
    assert.equal(train(3).status, 0);
    const again = sh('bash', [join(cdir, 'launch.sh')], { MASTER_PORT: String(await freePort()) });
    assert.equal(again.status, 0, again.out.slice(-6000));
    assert.match(again.out, new RegExp(`userlm-data: resuming from ${ckpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/checkpoint-2`));
    const state = JSON.parse(readFileSync(join(ckpt, 'checkpoint-3', 'trainer_state.json'), 'utf8')) as { global_step: number; log_history: { step: number; loss?: number }[] };
    assert.equal(state.global_step, 3);
    assert.ok(!existsSync(join(ckpt, 'checkpoint-1')), 'save_total_limit keeps the newest two');
  });

  it('datasets takes the shards\' features from their metadata, and its num_bytes is the card\'s; axolotl\'s dataset type rebuilds the chat list', () => {
    const r = sh('python', [join(PY, 'check_hf_shards.py'), out], { HF_DATASETS_OFFLINE: '1', HF_HOME: join(dir, 'hf-home') });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /train: \d+ file\(s\), features from metadata/);
    assert.match(r.out, /userlm_axolotl\.chat builds the chat list/);
  });

  it('the GPU configs (FSDP, DeepSpeed) load in accelerate and use only SFTConfig fields', () => {
    const paths: string[] = [];
    const sfts: string[] = [];
    for (const sharding of ['fsdp', 'deepspeed']) {
      const d = join(dir, `gpu-${sharding}`);
      const r = runCli(['train', out, '--trainer', 'trl', '--sharding', sharding, '--gpus', '8', '--nodes', '2', '--config-dir', d, '--dry-run']);
      assert.equal(r.status, 0, r.stderr);
      paths.push(join(d, 'accelerate.yaml'));
      sfts.push(join(d, 'trl.yaml'));
    }
    const r = sh('python', [join(PY, 'check_trainer_configs.py'), ...paths, join(cdir, 'accelerate.yaml'), '--sft', ...sfts, join(cdir, 'trl.yaml')]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /FSDP/);
    assert.match(r.out, /DEEPSPEED/);
  });
});

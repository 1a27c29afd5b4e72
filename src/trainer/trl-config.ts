import { EOT, templateTrailer } from '../stages/tokenize/chat-format.js';
import { PAPER_HYPERPARAMETERS } from './paper-hyperparameters.js';
import type { TrainingPlan } from './training-plan.js';

/**
 * SFTConfig keyword arguments (TRL 1.13 / transformers 5.18 field names: SFTConfig(**sft)
 * refuses any other, and make test-trainer builds it). gradient_accumulation_steps here is
 * the plan's; train_trl.py recomputes it from the world size it is launched with.
 */
export function trlSftConfig(p: TrainingPlan): Record<string, unknown> {
  const h = PAPER_HYPERPARAMETERS;
  return {
    output_dir: `${p.configDir}/checkpoints`,
    learning_rate: p.learningRate,
    num_train_epochs: p.epochs,
    ...(p.maxSteps !== null ? { max_steps: p.maxSteps } : {}),
    per_device_train_batch_size: p.batch.microBatch,
    per_device_eval_batch_size: p.batch.microBatch,
    gradient_accumulation_steps: p.batch.gradientAccumulation,
    lr_scheduler_type: h.lr_scheduler,
    // transformers 5 takes a warmup ratio as a float below 1 in warmup_steps.
    warmup_steps: h.warmup_ratio,
    weight_decay: h.weight_decay,
    max_grad_norm: h.max_grad_norm,
    // bf16 autocast; the weights stay fp32 (train_trl.py loads them so), so AdamW updates an
    // fp32 master copy and lr 2e-5 steps do not vanish in bf16 rounding.
    bf16: !p.cpu,
    use_cpu: p.cpu,
    gradient_checkpointing: true,
    gradient_checkpointing_kwargs: { use_reentrant: false },
    // The dataset guarantees every sample fits; truncation here would cut the target.
    max_length: p.maxSeqLen,
    // Prompt/completion rows: the loss covers the target turn and its <|eot_id|> only.
    completion_only_loss: true,
    packing: false,
    logging_steps: p.cpu ? 1 : 10,
    // Checkpoints every save_steps optimizer steps; train_trl.py resumes from the newest.
    save_strategy: 'steps',
    save_steps: p.saveSteps,
    save_total_limit: PAPER_HYPERPARAMETERS.save_total_limit,
    eval_strategy: p.evalFiles.length ? 'steps' : 'no',
    ...(p.evalFiles.length ? { eval_steps: p.saveSteps } : {}),
    seed: 42,
    report_to: 'none',
  };
}

export function trlConfig(p: TrainingPlan): Record<string, unknown> {
  return {
    model: {
      base_model: p.baseModel,
      chat_template: `${p.configDir}/chat_template.jinja`,
      chat_format: p.format.name,
      end_token: p.endToken,
      turn_end: EOT,
      pad_token: '<|end_of_text|>',
      // What the template appends after the last message whatever add_generation_prompt:
      // cut off the training text, since the model must learn to stop at <|eot_id|>.
      template_trailer: templateTrailer(p.format),
    },
    batch: { global: p.globalBatch, micro: p.batch.microBatch },
    data: { train: p.trainFiles, validation: p.evalFiles },
    sft: trlSftConfig(p),
  };
}

/** The entry point accelerate launches: reads the shards as they are, maps rows to prompt/completion. */
export const TRL_SCRIPT = `"""Fine-tune a User LM with TRL on a userlm-data dataset (written by userlm-data train)."""
import json
import os
import sys

import torch
import yaml
from datasets import load_dataset
from transformers import AddedToken, AutoModelForCausalLM, AutoTokenizer
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

cfg = yaml.safe_load(open(sys.argv[1]))
m = cfg["model"]
rank = int(os.environ.get("RANK", "0"))

# The global batch is fixed; the accumulation follows the world this launch really got, so
# sbatch --nodes=2 on a plan made for 1 node still trains with the same batch.
world = int(os.environ.get("WORLD_SIZE", "1"))
global_batch, micro = cfg["batch"]["global"], cfg["batch"]["micro"]
if global_batch % (micro * world):
    sys.exit(f"userlm-data: a global batch of {global_batch} cannot be split over {world} processes at {micro} per device; rerun userlm-data train --nodes/--gpus for this cluster")
accumulation = global_batch // (micro * world)
sft = dict(cfg["sft"], per_device_train_batch_size=micro, gradient_accumulation_steps=accumulation)
if rank == 0:
    print(f"userlm-data: world size {world}, global batch {global_batch} = {micro} per device x {accumulation} accumulation x {world}", flush=True)

tokenizer = AutoTokenizer.from_pretrained(m["base_model"])
with open(m["chat_template"]) as f:
    tokenizer.chat_template = f.read()
# UserLM-8b's end token: one added (non-special, so it shows in decoded text) token.
tokenizer.add_tokens([AddedToken(m["end_token"], special=False, normalized=False)])
# A turn ends with <|eot_id|>: generation must stop there, and TRL must not append
# <|end_of_text|> to completions that already end with it.
tokenizer.eos_token = m["turn_end"]
# The chat template writes any begin-of-text itself (UserLM-8b's writes none); TRL tokenizes
# the rendered text, which must not gain one.
tokenizer.add_bos_token = False
if tokenizer.pad_token is None:
    tokenizer.pad_token = m["pad_token"]

# fp32 weights: the optimizer's master copy; bf16 is autocast (SFTConfig bf16).
model = AutoModelForCausalLM.from_pretrained(m["base_model"], dtype=torch.float32)
model.resize_token_embeddings(len(tokenizer))
eot = tokenizer.convert_tokens_to_ids(m["turn_end"])
model.config.eos_token_id = eot
model.generation_config.eos_token_id = eot
model.generation_config.pad_token_id = tokenizer.pad_token_id
trailer = m["template_trailer"]


def to_prompt_completion(row):
    # Both texts come from the chat template itself: the prompt as generation sees it, and the
    # prompt plus the target as a user turn, less what the template appends after it.
    prompt = tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(row["messages"] + [{"role": "user", "content": row["target"]}], tokenize=False)
    end = len(full) - len(trailer)
    if not full.startswith(prompt) or full[end:] != trailer:
        raise ValueError(f"sample {row['sample_id']}: the chat template does not render the prompt as a prefix of prompt + target")
    return {"prompt": prompt, "completion": full[len(prompt):end]}


files = {split: paths for split, paths in cfg["data"].items() if paths}
ds = load_dataset("parquet", data_files=files)
ds = ds.map(to_prompt_completion, remove_columns=ds["train"].column_names)

trainer = SFTTrainer(
    model=model,
    args=SFTConfig(**sft),
    train_dataset=ds["train"],
    eval_dataset=ds["validation"] if "validation" in ds else None,
    processing_class=tokenizer,
)

# Every rank reports, with the world the accelerator really formed.
print(f"userlm-data: rank {rank} of {trainer.accelerator.num_processes} processes ready on {trainer.args.device}", flush=True)

dump = os.environ.get("USERLM_DUMP_PREPARED")
if dump and rank == 0:
    # What the trainer will train on, row by row (input ids and the ids under the loss).
    with open(dump, "w") as f:
        for r in trainer.train_dataset:
            f.write(json.dumps({"input_ids": r["input_ids"], "trained": [t for t in r["labels"] if t != -100]}) + "\\n")

last = get_last_checkpoint(sft["output_dir"]) if os.path.isdir(sft["output_dir"]) else None
if rank == 0:
    print(f"userlm-data: resuming from {last}" if last else "userlm-data: no checkpoint, starting from the base model", flush=True)
trainer.train(resume_from_checkpoint=last)
if trainer.is_fsdp_enabled:
    trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
trainer.save_model()
if rank == 0:
    tokenizer.save_pretrained(sft["output_dir"])
`;

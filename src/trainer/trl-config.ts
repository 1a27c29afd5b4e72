import type { TrainingPlan } from './training-plan.js';

/**
 * SFTConfig keyword arguments. Every key must be a field of TRL's SFTConfig (tests hold them
 * to a list read from TRL's and transformers' source).
 */
export function trlSftConfig(p: TrainingPlan): Record<string, unknown> {
  return {
    output_dir: `${p.configDir}/checkpoints`,
    learning_rate: p.learningRate,
    num_train_epochs: p.epochs,
    per_device_train_batch_size: p.batch.microBatch,
    per_device_eval_batch_size: p.batch.microBatch,
    gradient_accumulation_steps: p.batch.gradientAccumulation,
    lr_scheduler_type: 'cosine',
    bf16: true,
    gradient_checkpointing: true,
    // The dataset guarantees every sample fits; truncation here would cut the target.
    max_length: p.maxSeqLen,
    // Prompt/completion rows: the loss covers the target turn and its <|eot_id|> only.
    completion_only_loss: true,
    packing: false,
    logging_steps: 10,
    save_strategy: 'epoch',
    eval_strategy: p.evalFiles.length ? 'epoch' : 'no',
    report_to: 'none',
  };
}

export function trlConfig(p: TrainingPlan): Record<string, unknown> {
  return {
    model: {
      base_model: p.baseModel,
      chat_template: `${p.configDir}/chat_template.jinja`,
      end_token: p.endToken,
    },
    data: { train: p.trainFiles, validation: p.evalFiles },
    sft: trlSftConfig(p),
  };
}

/** The entry point accelerate launches: reads the shards as they are, maps rows to prompt/completion. */
export const TRL_SCRIPT = `"""Fine-tune a User LM with TRL on a userlm-data dataset (written by userlm-data train)."""
import sys

import yaml
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

cfg = yaml.safe_load(open(sys.argv[1]))
model_cfg = cfg["model"]

tokenizer = AutoTokenizer.from_pretrained(model_cfg["base_model"])
# One new special token, so that "the user leaves" is a single decision for the model.
tokenizer.add_special_tokens({"additional_special_tokens": [model_cfg["end_token"]]})
with open(model_cfg["chat_template"]) as f:
    tokenizer.chat_template = f.read()
if tokenizer.pad_token is None:
    tokenizer.pad_token = "<|end_of_text|>"

model = AutoModelForCausalLM.from_pretrained(model_cfg["base_model"], torch_dtype="auto")
model.resize_token_embeddings(len(tokenizer))


def to_prompt_completion(row):
    # The shards keep the context (messages) and the user's next turn (target) apart; as
    # prompt/completion, TRL computes the loss on the completion only.
    return {"prompt": row["messages"], "completion": [{"role": "user", "content": row["target"]}]}


files = {split: paths for split, paths in cfg["data"].items() if paths}
ds = load_dataset("parquet", data_files=files)
ds = ds.map(to_prompt_completion, remove_columns=ds["train"].column_names)

trainer = SFTTrainer(
    model=model,
    args=SFTConfig(**cfg["sft"]),
    train_dataset=ds["train"],
    eval_dataset=ds["validation"] if "validation" in ds else None,
    processing_class=tokenizer,
)
trainer.train()
trainer.save_model()
tokenizer.save_pretrained(cfg["sft"]["output_dir"])
`;

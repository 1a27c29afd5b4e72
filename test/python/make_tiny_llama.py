"""A tiny random Llama with the bundled Llama-3 tokenizer, saved as a local base model (no download)."""
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

tokenizer_json, out = sys.argv[1], sys.argv[2]
tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer_json, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
tok.save_pretrained(out)
torch.manual_seed(0)
cfg = LlamaConfig(
    vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
    num_key_value_heads=1, max_position_embeddings=8192, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    tie_word_embeddings=False,
)
LlamaForCausalLM(cfg).save_pretrained(out)

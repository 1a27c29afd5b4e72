"""axolotl dataset type `userlm_axolotl.chat`: axolotl's chat_template over userlm-data shards.

The shards hold the context (`messages`) and the user turn to learn (`target`) once each. This
strategy builds axolotl's per-turn view at load time: `chat` = the context with train=False,
then the target as a user message with train=True, and hands it to axolotl's own
chat_template strategy (field_messages: chat, message_field_training: train). axolotl imports
it as `type: userlm_axolotl.chat` when this folder's parent is on PYTHONPATH (launch.sh sets it).
"""


def with_chat(prompt):
    """The row (or the batch of rows, as datasets.map(batched=True) passes it) with `chat` added."""
    if isinstance(prompt["target"], list):
        chats = [_chat(m, t) for m, t in zip(prompt["messages"], prompt["target"])]
    else:
        chats = _chat(prompt["messages"], prompt["target"])
    return {**prompt, "chat": chats}


def _chat(messages, target):
    context = [{"role": m["role"], "content": m["content"], "train": False} for m in messages]
    return context + [{"role": "user", "content": target, "train": True}]


def _loader():
    # Imported here so that with_chat can be used (and tested) without axolotl installed.
    from axolotl.prompt_strategies.chat_template import ChatTemplateStrategy, StrategyLoader

    class UserTurnStrategy(ChatTemplateStrategy):
        def tokenize_prompt(self, prompt):
            return super().tokenize_prompt(with_chat(prompt))

    class UserTurnLoader(StrategyLoader):
        def _get_strategy_cls(self, cfg):
            return UserTurnStrategy

    return UserTurnLoader()


def load(tokenizer, cfg, ds_cfg=None, processor=None):
    return _loader()(tokenizer, cfg, ds_cfg, processor=processor)

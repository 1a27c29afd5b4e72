"""Holds generated configs to the installed accelerate / TRL: argv = accelerate.yaml ... then --sft trl.yaml ..."""
import dataclasses
import sys

import yaml
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import launch_command_parser
from trl import SFTConfig

args = sys.argv[1:]
split = args.index("--sft")
launch_opts = {a.dest for a in launch_command_parser()._actions}
sft_fields = {f.name for f in dataclasses.fields(SFTConfig)}
for path in args[:split]:
    cfg = load_config_from_file(path)  # refuses keys that are not ClusterConfig fields
    for section in ("fsdp_config", "deepspeed_config"):
        unknown = [k for k in (getattr(cfg, section) or {}) if k not in launch_opts]
        assert not unknown, f"{path}: {section} keys accelerate launch does not know: {unknown}"
    print(f"ok {path}: {cfg.distributed_type}")
for path in args[split + 1 :]:
    sft = yaml.safe_load(open(path))["sft"]
    unknown = sorted(set(sft) - sft_fields)
    assert not unknown, f"{path}: keys that are not SFTConfig fields: {unknown}"
    print(f"ok {path}: {len(sft)} SFTConfig fields")

"""Hold a userlm-data out_dir to what the real `datasets` makes of it.

    check_hf_shards.py OUT_DIR

Checks that Features.from_arrow_schema takes every column's feature from the shards'
`huggingface` metadata (not a guess from the Arrow types), that load_dataset gives those
features, that each split's num_bytes as datasets computes it is within 1% of the card's
(manifest num_bytes), that every row group stays under the configured byte cap, and that
axolotl's dataset type builds the chat list the old `chat` column held. Prints one line per split.
"""
import glob
import json
import os
import sys

import pyarrow.parquet as pq
from datasets import Features, load_dataset

out = sys.argv[1]
manifest = json.load(open(os.path.join(out, "manifest.json")))
for split, stats in manifest["splits"].items():
    files = sorted(glob.glob(os.path.join(out, "data", f"{split}-*.parquet")))
    schema = pq.read_schema(files[0])
    meta = Features.from_dict(json.loads(schema.metadata[b"huggingface"])["info"]["features"])
    used = Features.from_arrow_schema(schema)
    wrong = [name for name in schema.names if meta.get(name) != used[name]]
    assert not wrong, f"{split}: datasets ignores the metadata features of {wrong}"
    ds = load_dataset("parquet", data_files={split: files}, split=split)
    assert ds.features == meta, f"{split}: {ds.features} != {meta}"
    got = ds.info.splits[split].num_bytes
    assert abs(got - stats["num_bytes"]) <= 0.01 * got, f"{split}: datasets num_bytes {got}, manifest {stats['num_bytes']}"
    for f in files:
        md = pq.ParquetFile(f).metadata
        for i in range(md.num_row_groups):
            assert md.row_group(i).total_byte_size <= 100_000_000, f"{f}: row group {i} is {md.row_group(i).total_byte_size} bytes"
    print(f"{split}: {len(files)} file(s), features from metadata, num_bytes datasets {got} manifest {stats['num_bytes']}")

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src", "trainer"))
from userlm_axolotl.chat import with_chat  # noqa: E402

row = load_dataset("parquet", data_files={"train": sorted(glob.glob(os.path.join(out, "data", "train-*.parquet")))}, split="train")[0]
chat = with_chat(row)["chat"]
assert [m["content"] for m in chat] == [m["content"] for m in row["messages"]] + [row["target"]]
assert [m["train"] for m in chat] == [False] * len(row["messages"]) + [True]
batch = with_chat({"messages": [row["messages"]] * 2, "target": [row["target"]] * 2})["chat"]
assert batch == [chat, chat]
print("userlm_axolotl.chat builds the chat list from messages and target")

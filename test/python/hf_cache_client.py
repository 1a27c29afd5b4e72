"""The real huggingface_hub, driven by test/hub/hf-cache-python.hfcache.ts against a cache `pull` shares.

    python hf_cache_client.py snapshot REPO REVISION [PATTERN...]   offline unless HF_HUB_OFFLINE=0
    python hf_cache_client.py download REPO REVISION FILENAME
    python hf_cache_client.py hold-lock LOCK_PATH                    prints "held", releases on a line on stdin
    python hf_cache_client.py scan                                   the cache as scan_cache_dir sees it

Prints one JSON object on stdout; exit 1 with {"error", "type"} on a huggingface_hub error.
The cache, endpoint and offline mode come from HF_HUB_CACHE, HF_ENDPOINT and HF_HUB_OFFLINE.
"""
import json
import os
import sys

import huggingface_hub
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
from huggingface_hub.utils import WeakFileLock


def files_under(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = len(f.read())
    return out


def main(argv):
    cmd = argv[0]
    try:
        if cmd == "snapshot":
            repo, revision, patterns = argv[1], argv[2], argv[3:] or None
            path = snapshot_download(repo, repo_type="dataset", revision=revision, allow_patterns=patterns)
            return {"path": path, "files": files_under(path), "version": huggingface_hub.__version__}
        if cmd == "snapshot-local-only":
            repo, revision, patterns = argv[1], argv[2], argv[3:] or None
            path = snapshot_download(repo, repo_type="dataset", revision=revision, allow_patterns=patterns, local_files_only=True)
            return {"path": path, "files": files_under(path)}
        if cmd == "download":
            path = hf_hub_download(argv[1], argv[3], repo_type="dataset", revision=argv[2])
            return {"path": path, "size": os.path.getsize(path)}
        if cmd == "hold-lock":
            with WeakFileLock(argv[1]):
                print("held", flush=True)
                sys.stdin.readline()
            return {"released": True}
        if cmd == "scan":
            info = scan_cache_dir()
            return {
                "repos": sorted(r.repo_id for r in info.repos),
                "incomplete": sorted(os.path.basename(str(f.file_path)) for f in info.incomplete_files),
                "warnings": [str(w) for w in info.warnings],
            }
    except Exception as e:  # noqa: BLE001 - the test reads the type
        print(json.dumps({"error": str(e), "type": type(e).__name__}))
        return None
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    result = main(sys.argv[1:])
    if result is None:
        sys.exit(1)
    print(json.dumps(result))

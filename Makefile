# userlm-data: `make dataset` builds the sample dataset, `make test` runs the suite.
# Both install dependencies (npm ci) when node_modules is missing or stale.

NODE ?= node
SRC := $(shell find src test datasets -name '*.ts' 2>/dev/null) $(wildcard schemas/*.json) tsconfig.json
INSTALLED := node_modules/.package-lock.json
BUILT := dist/.built
CLI := $(NODE) --enable-source-maps dist/src/cli/main.js

.PHONY: all install build dataset test test-hf-cache test-trainer slurm-test soak bench sample clean schema

all: dataset

# npm ci is the install; a registry mirror that lacks other platforms' optional packages
# (DuckDB ships one binary package per platform) leaves them out of the lock file, and
# npm ci then refuses it. npm install --no-save installs the same pinned versions from
# the lock without rewriting it.
$(INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund || { \
	  echo "npm ci refused the lock file; installing the same pinned versions with npm install --no-save"; \
	  npm install --no-save --no-audit --no-fund; }
	@touch $@

install: $(INSTALLED)

$(BUILT): $(INSTALLED) $(SRC)
	./node_modules/.bin/tsc -p tsconfig.json
	@chmod +x dist/src/cli/main.js
	@touch $@

build: $(BUILT)

## Build out/sample/ from the bundled sample (offline).
dataset: $(BUILT)
	$(CLI) run pipelines/sample.yaml

## The test suite (Node's built-in runner). Only *.test.js files: Node 20 would otherwise
## run every .js under a test/ directory (helpers, local servers) as a test file.
test: $(BUILT)
	$(NODE) --enable-source-maps --test --test-concurrency=2 $$(find dist/test -name '*.test.js' | sort)

## The Hugging Face cache shared with the real Python huggingface_hub (from the pip mirror):
## offline snapshot_download of what pull filled, both tools' locks, superseded partial files.
## Fails, never skips, when python3 or the wheels are missing.
HF_VENV := .venv-hf
test-hf-cache: $(BUILT)
	test/python/make-venv.sh $(HF_VENV) test/python/requirements-hf-cache.txt
	USERLM_HF_PYTHON=$(CURDIR)/$(HF_VENV)/bin/python $(NODE) --enable-source-maps --test $$(find dist/test -name '*.hfcache.js' | sort)

## A real TRL run of the train hand-off: 2 CPU processes (gloo) on a tiny random Llama.
## Makes .venv-trainer from this machine's pip (src/trainer/requirements-trl.txt) first; fails,
## never skips, when Python or a wheel cannot be had. PIP_RETRIES=0: an unreachable default
## index fails at once instead of after minutes of retries (the mirror is an extra index).
test-trainer: $(BUILT)
	PIP_RETRIES=$${PIP_RETRIES:-0} test/python/make-venv.sh .venv-trainer src/trainer/requirements-trl.txt
	PATH="$(CURDIR)/.venv-trainer/bin:$$PATH" $(NODE) --enable-source-maps --test dist/test/trainer/trl-cpu-training.slow.js

## The sample through `run --executor slurm --shards 4` on a real one-node Slurm cluster that
## the test starts itself (munged, slurmctld, slurmd from Debian's slurmctld/slurmd/munge; as
## root, no systemd), with one array task killed midway and the run resubmitted; every output
## file is compared with cmp against a local n = 1 run. Fails, never skips, without Slurm.
slurm-test: $(BUILT)
	$(NODE) --enable-source-maps --test dist/test/exec/slurm.slurm.js

## The crash test at length: USERLM_SOAK_KILLS (default 200) SIGKILLs at seeded random points
## of the sample run; USERLM_CRASH_SEED replays a schedule (the seed is printed). Its seeded
## episodes also replace a dataset while a user's file is put into out_dir (between runs and
## mid-export: it must survive, exit 2), and take intents from a local OpenAI-compatible
## server that turns bad mid-run (500, 429, nonsense, 400, hang, slow, reset): exit 5 with the
## previous dataset kept, then fixed, and the same dataset as an all-good run
## (docs/reliability.md, The crash test).
## The property tests run 10x longer on fresh random inputs (a failure prints its seed).
soak: $(BUILT)
	$(NODE) --enable-source-maps --test dist/test/crash/crash.soak.js
	USERLM_PROPERTY_SEED=random USERLM_PROPERTY_SCALE=10 $(NODE) --enable-source-maps --test $$(find dist/test -name '*.property.test.js' | sort)

## Regenerate schemas/pipeline.schema.json from src/config/pipeline-schema.ts and the source
## registry (a test fails while the checked-in file differs).
schema: $(BUILT)
	$(NODE) dist/src/config/write-pipeline-schema.js schemas/pipeline.schema.json

## Regenerate datasets/sample/ from its seeded generator.
sample: $(BUILT)
	$(NODE) dist/datasets/sample/generate.js datasets/sample

clean:
	rm -rf dist runs out

## Benchmarks (prints numbers; USERLM_BENCH_SIZES=100000 for a quick dedup run).
## USERLM_BENCH_ONLY=pipeline: the whole pipeline on the realistic WildChat-shaped corpus vs
## the DuckDB floor, at USERLM_BENCH_PIPELINE_SIZES (default 1000000,3000000; ~4 GB of text
## per million, generated once and cached under USERLM_BENCH_DIR, default runs/bench).
bench: $(BUILT)
	$(NODE) --enable-source-maps dist/src/bench/main.js

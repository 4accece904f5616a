# Root Warden. Two commands do all set-up on a fresh machine (Rust, Python 3, Node):
#   make test   quality gates + every test, against a local AWS emulator
#   make demo   bring the suite up locally, run a scripted scenario, tear it down
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
TOOLS := .tools
LOCAL := .local

# Pinned tool versions (see docs/emulator.md for why each).
MOTO_VERSION := 5.2.5
CARGO_LAMBDA_VERSION := 1.9.2
CFN_LINT_VERSION := 1.58.0
SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
ASL_VALIDATOR_VERSION := 4.0.0
RUFF_VERSION := 0.17.6
PYTEST_VERSION := 9.2.0
# zig links the arm64 Lambda binaries for `cargo lambda build --arm64` (make package).
ZIGLANG_VERSION := 0.17.1

ASL_FILES := $(wildcard infra/statemachines/*.asl.json)
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR := never

.PHONY: help venv tools lint lint-rust lint-infra build test local-up local-down demo clean fuzz bench bench-sweep bench-digest \
  bench-coldstart bench-package bench-calls bench-mail bench-fleet package

help:
	@echo "make test        fmt, clippy, infra checks, unit and integration tests"
	@echo "make demo        local-up, scripted scenario, local-down"
	@echo "make local-up    start the emulator + function host in the background, write $(LOCAL)/env"
	@echo "make local-down  stop exactly what local-up started"

# --- tools (pinned, installed into project-local folders) ---------------------------------
VENV_STAMP := $(VENV)/.stamp-$(MOTO_VERSION)-$(CARGO_LAMBDA_VERSION)-ruff$(RUFF_VERSION)-pytest$(PYTEST_VERSION)
$(VENV_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' \
	  'ruff==$(RUFF_VERSION)' 'pytest==$(PYTEST_VERSION)'
	touch $@
venv: $(VENV_STAMP)
# zig (about 50 MB) only for `make package`: make test never installs it.
ZIG_STAMP := $(VENV)/.stamp-ziglang$(ZIGLANG_VERSION)
$(ZIG_STAMP): $(VENV_STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'ziglang==$(ZIGLANG_VERSION)'
	touch $@

# SAM CLI, checkov and moto pin conflicting boto3 versions: one venv each.
$(TOOLS)/venv-sam/.stamp-$(SAM_CLI_VERSION)-$(CFN_LINT_VERSION):
	$(PYTHON) -m venv $(TOOLS)/venv-sam
	$(TOOLS)/venv-sam/bin/pip install --quiet --disable-pip-version-check 'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@
$(TOOLS)/venv-checkov/.stamp-$(CHECKOV_VERSION):
	$(PYTHON) -m venv $(TOOLS)/venv-checkov
	$(TOOLS)/venv-checkov/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@
$(TOOLS)/npm/.stamp-$(ASL_VALIDATOR_VERSION):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm asl-validator@$(ASL_VALIDATOR_VERSION)
	touch $@
TOOL_STAMPS := $(VENV_STAMP) $(TOOLS)/venv-sam/.stamp-$(SAM_CLI_VERSION)-$(CFN_LINT_VERSION) \
  $(TOOLS)/venv-checkov/.stamp-$(CHECKOV_VERSION) $(TOOLS)/npm/.stamp-$(ASL_VALIDATOR_VERSION)
# The four installs are independent: run them side by side (about a minute less on a cold machine).
tools:
	@$(MAKE) --no-print-directory -j4 $(TOOL_STAMPS)

# --- gates -----------------------------------------------------------------------------------
lint: lint-rust lint-infra

lint-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

lint-infra: tools
	$(VENV)/bin/ruff check emulator scripts
	$(TOOLS)/venv-sam/bin/cfn-lint infra/template.yaml infra/member-role.yaml
	$(TOOLS)/venv-sam/bin/sam validate --lint -t infra/template.yaml
	$(TOOLS)/npm/node_modules/.bin/asl-validator $(addprefix --json-path ,$(ASL_FILES))
	$(TOOLS)/venv-checkov/bin/checkov --framework cloudformation --skip-download --quiet --compact -f infra/template.yaml -f infra/member-role.yaml

# Function binaries for the function host, and the CLI used by tests and the demo.
# Dev builds compile the workspace's own crates through clippy-driver (RUSTC_WORKSPACE_WRAPPER,
# as `cargo clippy` does, but building, -D warnings): every dev and test build is linted, and the
# dependencies are compiled once instead of a second time in check mode for a separate clippy
# pass (about 300 s of a cold make test on 2 cores). Release builds (bench, package) do not use it.
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

build:
	$(CLIPPY_BUILD) cargo build --workspace --bins --quiet

# Every emulator the tests start logs the IAM calls it checked here; afterwards iam_usage.py fails
# if the template grants a role an action that role never used (infra/iam-unused-allowlist.yaml).
IAM_CALLS := $(CURDIR)/target/iam-calls

# On a cold machine the tool installs (network, pip) overlap the build (CPU), and the infra
# checks and the emulator's own tests overlap the test compile (-O keeps each one's output
# together). Clippy runs inside the builds (CLIPPY_BUILD); the --all-targets compile lints benches
# and examples too. The test binaries then run two at a time (scripts/run_tests.py says why not
# `cargo test` or nextest): 261 s one after another, 178 s two at a time, on 2 cores.
test:
	cargo fmt --all --check
	@$(MAKE) --no-print-directory -j2 tools build
	@$(MAKE) --no-print-directory -j3 -O lint-infra test-compile python-tests
	rm -rf $(IAM_CALLS)
	ROOTWARDEN_IAM_CALL_LOG_DIR=$(IAM_CALLS) $(CLIPPY_BUILD) $(VENV)/bin/python scripts/run_tests.py --jobs 2
	$(VENV)/bin/python emulator/iam_usage.py $(IAM_CALLS) --report target/iam-usage.json

.PHONY: test-compile python-tests
test-compile:
	$(CLIPPY_BUILD) cargo test --workspace --all-targets --no-run --quiet
# Needs target/debug/rootwarden (make build), which make test builds first.
python-tests: venv
	$(VENV)/bin/python -m pytest -q emulator/tests scripts/tests

# --- local stack -----------------------------------------------------------------------------
local-up: venv build
	@mkdir -p $(LOCAL)
	@if [ -f $(LOCAL)/emulator.pid ] && kill -0 "$$(cat $(LOCAL)/emulator.pid)" 2>/dev/null; then \
	  echo "local stack already running (pid $$(cat $(LOCAL)/emulator.pid)); make local-down first"; exit 1; fi
	@rm -f $(LOCAL)/ready.json $(LOCAL)/env
	@setsid $(VENV)/bin/python emulator/launcher.py --host 127.0.0.1 --port 0 \
	  --ready-file $(LOCAL)/ready.json --env-file $(LOCAL)/env \
	  --function-host --bin-dir target/debug \
	  --provision infra/template.yaml --stack-name rootwarden-local \
	  </dev/null >$(LOCAL)/emulator.log 2>&1 & echo $$! > $(LOCAL)/emulator.pid
	@for i in $$(seq 1 600); do \
	  [ -s $(LOCAL)/ready.json ] && break; \
	  kill -0 "$$(cat $(LOCAL)/emulator.pid)" 2>/dev/null || { echo "emulator failed to start:"; tail -n 40 $(LOCAL)/emulator.log; rm -f $(LOCAL)/emulator.pid; exit 1; }; \
	  sleep 0.1; done
	@[ -s $(LOCAL)/ready.json ] || { echo "emulator not ready after 60 s"; $(MAKE) --no-print-directory local-down; exit 1; }
	@echo "local stack up: $$(grep -o '"endpoint": *"[^"]*"' $(LOCAL)/ready.json) (pid $$(cat $(LOCAL)/emulator.pid))"
	@echo "use it:  set -a; . $(LOCAL)/env; set +a"

local-down:
	@if [ -f $(LOCAL)/emulator.pid ]; then \
	  pid=$$(cat $(LOCAL)/emulator.pid); \
	  kill -TERM -- -$$pid 2>/dev/null || true; \
	  for i in $$(seq 1 30); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
	  kill -KILL -- -$$pid 2>/dev/null || true; \
	  rm -f $(LOCAL)/emulator.pid $(LOCAL)/ready.json; \
	  echo "local stack stopped (process group $$pid)"; \
	else echo "no local stack running"; fi

demo: venv build
	@$(MAKE) --no-print-directory local-up
	@status=0; scripts/demo.sh || status=$$?; \
	  $(MAKE) --no-print-directory local-down; exit $$status

clean: local-down
	rm -rf $(LOCAL) target

# --- fuzzing and benchmarks (not part of make test) ------------------------------------------
CARGO_FUZZ_VERSION := 0.13.1
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	mkdir -p fuzz/corpus/mail_decide && cp tests/fixtures/mail/*.eml fuzz/corpus/mail_decide/
	cd fuzz && cargo +nightly fuzz run mail_decide -- -max_total_time=$(FUZZ_SECONDS) -max_len=262144

# `make bench`: every part writes target/bench/<part>.json; bench/table.py prints one table and
# rewrites the README's performance section with it.
BENCH_PARTS := coldstart package calls mail fleet
bench: venv
	@mkdir -p target/bench
	@rm -f $(addprefix target/bench/,$(addsuffix .json,$(BENCH_PARTS)))
	@date +%s > target/bench/started
	@$(MAKE) --no-print-directory $(addprefix bench-,$(BENCH_PARTS))
	$(VENV)/bin/python bench/table.py --readme README.md

# Release binaries of every function spawned against a minimal Runtime API on loopback: init
# time and peak RSS, beside a bare lambda_runtime binary and a Python boto3 anchor.
bench-coldstart: venv
	$(VENV)/bin/python bench/coldstart.py

# What SAM deploys (BuildMethod: rust-cargolambda, arm64): one bootstrap.zip per function under
# target/lambda/<function>/. Release profile, cross-linked by zig; no AWS account needed. Its own
# target folder, so it never waits for (or blocks) the lock of the x86_64 builds and tests.
FUNCTIONS := $(notdir $(patsubst %/,%,$(dir $(wildcard functions/*/Cargo.toml))))
package: $(ZIG_STAMP)
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR="$(CURDIR)/target/arm64" \
	  $(VENV)/bin/cargo-lambda lambda build --release --arm64 --output-format zip \
	  --lambda-dir "$(CURDIR)/target/lambda" $(addprefix -p ,$(FUNCTIONS))

bench-package: $(ZIG_STAMP)
	$(VENV)/bin/python bench/package.py

bench-mail: venv
	cargo bench -p rootwarden-core --bench mail_throughput

# AWS calls per operation, from the emulator's request log, with the real binaries (make build's).
# It counts, it does not time: built like the tests (dev profile, whole-workspace features), so
# it reuses make test's artifacts and `make build`'s binaries stay fresh.
bench-calls: venv build
	$(CLIPPY_BUILD) cargo bench --workspace --bench calls --profile dev

# The sweep's time is the emulator's, not the binary's: no fat LTO for this one.
bench-sweep: venv
	CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
	  cargo bench -p rootwarden-tests --bench sweep

# Digest writer and verifier at the scale of an estate (DIGEST_BENCH_CHAINS, default 10,000).
bench-digest: venv
	CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
	  cargo bench -p rootwarden-tests --bench digest

# Enforcement of 10,000 accounts (FLEET_BENCH_ACCOUNTS) through the enforcement state machine's
# Distributed Map on the emulator, with AssumeRoot faults injected into 1% of them; writes
# target/bench/fleet.json. The time is the emulator's and the function host's (the function binaries
# are the debug builds `make build` makes), so the driver builds with the dev profile too: no
# optimized build of the SDK stack just to poll an execution.
bench-fleet: venv build
	$(CLIPPY_BUILD) cargo bench --workspace --bench fleet --profile dev

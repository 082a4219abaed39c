# Homeward: `make run` runs everything in one process; `make test` runs every test.
SHELL := bash
CARGO ?= cargo

.PHONY: help run run-distributed test test-python deploy-check lint fmt proto-lint build demo bench bench-exchange bench-quick eval eval-data clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## Build and run all services in one process on SQLite (data in ./data)
	HOMEWARD_AUTH__DEV_MODE=$${HOMEWARD_AUTH__DEV_MODE:-true} \
	HOMEWARD_DATA_DIR=$${HOMEWARD_DATA_DIR:-$(CURDIR)/data} \
	$(CARGO) run -p homeward

SERVICE_BINS := -p homeward-registry -p homeward-exchange -p homeward-notification

run-distributed: ## The compose topology as plain processes: a database per service, two replicas each
	./scripts/ensure-postgres.sh
	$(CARGO) build --bins $(SERVICE_BINS) -p homeward-topology
	$(CARGO) run --quiet -p homeward-topology

test: ## Run every test (starts the local PostgreSQL if it is down)
	./scripts/ensure-postgres.sh
	$(CARGO) build --bins $(SERVICE_BINS)
	$(CARGO) nextest run --workspace --no-fail-fast
	./scripts/python-client.sh

test-python: ## A Python client, generated from proto/, runs a short scenario against `make run`
	./scripts/python-client.sh

deploy-check: ## Render and validate the Kubernetes overlays, the compose file and the Dockerfile, offline
	./scripts/deploy-check.sh

lint: ## Formatting and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

proto-lint: ## Lint and build the protobuf contracts with buf (installed from npm on first use)
	./scripts/proto-lint.sh

build: ## Build every binary
	$(CARGO) build --workspace

demo: ## Replay an exchange's first phase (390 for 390) and two families' inquiries against `make run`
	$(CARGO) run --quiet -p homeward-story --bin homeward-demo

bench: ## Registry, exchange and notification benchmarks on PostgreSQL (docs/*BENCH*.md)
	./scripts/ensure-postgres.sh
	$(CARGO) run --release -p homeward-bench --bin registry-bench -- --report docs/BENCHMARKS.md
	$(CARGO) run --release -p homeward-bench --bin exchange-bench -- --report docs/EXCHANGE_BENCH.md --notification-report docs/NOTIFICATION_BENCH.md

bench-exchange: ## A 1,000-for-1,000 phase (lists to frozen, completion to registry) and 390 families notified
	./scripts/ensure-postgres.sh
	$(CARGO) run --release -p homeward-bench --bin exchange-bench -- --report docs/EXCHANGE_BENCH.md --notification-report docs/NOTIFICATION_BENCH.md

bench-quick: ## The benchmarks at toy sizes, as a smoke test
	./scripts/ensure-postgres.sh
	$(CARGO) run --release -p homeward-bench --bin registry-bench -- --quick

EVAL_DIR ?= target/eval
EVAL_VENV := .tools/eval-venv

eval-data: ## Generate the labelled identity evaluation set (fixed seed) into target/eval
	test -x $(EVAL_VENV)/bin/python || python3 -m venv $(EVAL_VENV)
	$(EVAL_VENV)/bin/pip install --quiet -r scripts/requirements-eval.txt
	$(EVAL_VENV)/bin/python scripts/gen-eval-set.py --out $(EVAL_DIR)

eval: eval-data ## Identity engine accuracy vs pg_trgm, calibration and speed at 1M (docs/IDENTITY_EVAL.md)
	./scripts/ensure-postgres.sh
	$(CARGO) run --release -p homeward-bench --bin identity-eval -- --data $(EVAL_DIR) --report docs/IDENTITY_EVAL.md

clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data

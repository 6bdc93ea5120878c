# Entry points. Each target delegates to a script that owns the logic, so that CI, users and
# tests run the same code. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap venv cluster-up cluster-down server test test-fast lint demo demo-down bench

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

venv: ## project virtualenv with pinned Python dependencies only
	@bash toolchain/venv.sh

bootstrap: ## virtualenv + Pulumi CLI, plugins, Kubernetes binaries, kwok (cached outside the repo)
	@bash toolchain/bootstrap.sh

cluster-up: ## start the local kwok cluster (prints its kubeconfig)
	@bash toolchain/cluster.sh up

cluster-down: ## stop the local kwok cluster, leaving no process or port behind
	@bash toolchain/cluster.sh down

server: ## run the local ConfigHub server in the foreground (embedded default)
	@bash toolchain/venv.sh >/dev/null && .venv/bin/python -m confighub_local serve

test: ## the full suite: bootstrap (cached), cluster, every test, teardown
	@bash toolchain/test.sh

test-fast: ## tests that need neither the built toolchain nor a cluster
	@bash toolchain/venv.sh >/dev/null && .venv/bin/python -m pytest -m "not engine and not cluster" -q

lint: ## ruff and mypy
	@bash toolchain/venv.sh >/dev/null && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy components confighub_local policies preview_comment operator_cli benchmarks

demo: ## local ConfigHub + local cluster + pulumi up of dev, staging and prod
	@bash scripts/demo.sh

demo-down: ## unprotect prod, destroy the demo's three stacks, stop its ConfigHub server
	@bash scripts/demo.sh down

bench: ## benchmarks (print figures/JSON): local server, hostile input, deploy speed vs design flow/floor/critical path (BENCH_ARGS), restore, preview scaling, rollouts
	@bash toolchain/venv.sh >/dev/null && .venv/bin/python benchmarks/server_bench.py
	@.venv/bin/python benchmarks/hostile_bench.py
	@bash toolchain/bootstrap.sh && source toolchain/env.sh && .venv/bin/python benchmarks/deploy_bench.py $(BENCH_ARGS)
	@bash toolchain/cluster.sh up >/dev/null && source toolchain/env.sh && .venv/bin/python benchmarks/restore_bench.py
	@source toolchain/env.sh && .venv/bin/python benchmarks/preview_scale_bench.py
	@source toolchain/env.sh && .venv/bin/python benchmarks/rollout_bench.py
	@source toolchain/env.sh && .venv/bin/python benchmarks/rollback_bench.py

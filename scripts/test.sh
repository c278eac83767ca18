#!/usr/bin/env bash
# Install every test dependency, check formatting and lints (cargo fmt,
# clippy with warnings as errors), build, and run every test: the Rust suites
# (unit, property and system tests) under nextest, then the Python suites
# that drive the servers with real clients (kazoo, zkCli.sh, cli_mt, ...)
# and compare zookeeperd with Apache ZooKeeper, then the Java ecosystem
# (tests/java, Maven), then the deployment test
# (the ansible playbooks on systemd-nspawn machines; scripts/test-deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
# Formatting and lints first: they fail fast and cost no test time.
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The system tests start the daemons as processes: build the binaries first.
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast
python3 -m pytest tests/py
# The Java ecosystem (Curator, the ZooKeeper client, kafka-clients,
# kafka-streams) against the daemons.
scripts/test-java.sh
python3 -m pytest tests/deploy

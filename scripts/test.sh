#!/usr/bin/env bash
# Install every test dependency, build, and run every test: the Rust suites
# (unit, property and system tests) under nextest, then the Python suites
# that drive the servers with real clients (kazoo, zkCli.sh, cli_mt, ...)
# and compare zookeeperd with Apache ZooKeeper, then the Java ecosystem
# (tests/java, Maven), then the deployment test
# (the ansible playbooks on systemd-nspawn machines; scripts/test-deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
# The system tests start the daemons as processes: build the binaries first.
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast
python3 -m pytest tests/py
# The Java ecosystem (Curator, the ZooKeeper client, kafka-clients,
# kafka-streams) against the daemons.
scripts/test-java.sh
python3 -m pytest tests/deploy

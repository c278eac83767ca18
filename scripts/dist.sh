#!/usr/bin/env bash
# Build the release tarball, laid out like Kafka's: bin/ (the scripts),
# config/, libexec/ (kafkad, zookeeperd, kafka-tools), README.md.
#   scripts/dist.sh [OUTDIR]        -> OUTDIR/zk-kafka-rs-<version>.tgz (default dist/)
# PROFILE=debug packages a debug build; SKIP_BUILD=1 packages what is built.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-dist}
profile=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-$root/target}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
name=zk-kafka-rs-$version
if [ -z "${SKIP_BUILD:-}" ]; then
  if [ "$profile" = release ]; then cargo build -q --release --bins; else cargo build -q --bins; fi
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"/{bin,config,libexec}
cp bin/* "$stage/$name/bin/"
cp config/* "$stage/$name/config/"
for b in kafkad zookeeperd kafka-tools; do cp "$target/$profile/$b" "$stage/$name/libexec/"; done
cp README.md "$stage/$name/"
mkdir -p "$out"
tar -C "$stage" -czf "$out/$name.tgz" "$name"
echo "$out/$name.tgz"

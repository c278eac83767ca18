#!/usr/bin/env bash
# Bring up the stack locally with data under ./data.
# Until kafkad's embedded mode lands this runs zookeeperd alone on :2181.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
mkdir -p data/zookeeper
cfg=data/zookeeper.properties
cat > "$cfg" <<CFG
dataDir=$PWD/data/zookeeper
clientPort=2181
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
CFG
exec target/release/zookeeperd "$cfg"

#!/usr/bin/env bash
# Bring up the stack locally: one kafkad broker on localhost:9092 with its
# own in-process zookeeperd, all data under ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
mkdir -p data
exec target/release/kafkad \
  --override broker.id=0 \
  --override listeners=PLAINTEXT://0.0.0.0:9092 \
  --override advertised.listeners=PLAINTEXT://localhost:9092 \
  --override log.dirs="$PWD/data/kafka-logs" \
  --override offsets.topic.replication.factor=1 \
  "$@"

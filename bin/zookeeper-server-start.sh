#!/usr/bin/env bash
# zookeeper-server-start.sh [-daemon] zookeeper.properties
# Runs zookeeperd (Kafka's script runs QuorumPeerMain). With -daemon it
# detaches and logs to $LOG_DIR/zookeeper.out (LOG_DIR defaults to ../logs).
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] zookeeper.properties"
  exit 1
fi
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary zookeeperd)" || exit 1
daemon=0
if [ "$1" = "-daemon" ]; then daemon=1; shift; fi
while [ $# -gt 0 ] && { [ "$1" = "-name" ] || [ "$1" = "-loggc" ]; }; do
  [ "$1" = "-name" ] && shift
  shift
done
if [ $daemon -eq 1 ]; then
  base_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  LOG_DIR="${LOG_DIR:-$base_dir/logs}"
  mkdir -p "$LOG_DIR"
  nohup "$bin" "$@" >"$LOG_DIR/zookeeper.out" 2>&1 </dev/null &
  exit 0
fi
exec "$bin" "$@"

#!/usr/bin/env bash
# kafka-server-start.sh [-daemon] server.properties [--override property=value]*
# Runs kafkad (Kafka's script runs kafka.Kafka). With -daemon it detaches
# and logs to $LOG_DIR/kafkaServer.out (LOG_DIR defaults to ../logs).
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
  exit 1
fi
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafkad)" || exit 1
daemon=0
if [ "$1" = "-daemon" ]; then daemon=1; shift; fi
# Options of the Java launcher that have no meaning here.
while [ $# -gt 0 ] && { [ "$1" = "-name" ] || [ "$1" = "-loggc" ]; }; do
  [ "$1" = "-name" ] && shift
  shift
done
if [ $daemon -eq 1 ]; then
  base_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  LOG_DIR="${LOG_DIR:-$base_dir/logs}"
  mkdir -p "$LOG_DIR"
  nohup "$bin" "$@" >"$LOG_DIR/kafkaServer.out" 2>&1 </dev/null &
  exit 0
fi
exec "$bin" "$@"

#!/usr/bin/env bash
# zkServer.sh {start|start-foreground|stop|restart|status} [config]
# ZooKeeper's control script for zookeeperd. The config defaults to
# $ZOOCFGDIR/zoo.cfg, ../conf/zoo.cfg, then ../config/zookeeper.properties.
# The pid goes to $dataDir/zookeeper_server.pid as ZooKeeper's does.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# `..` taken lexically (bin/ may be a symlink into another tree).
base="$(cd "$here/.." && pwd)"

if [ -n "$2" ]; then
  ZOOCFG="$2"
elif [ -n "$ZOOCFGDIR" ] && [ -f "$ZOOCFGDIR/zoo.cfg" ]; then
  ZOOCFG="$ZOOCFGDIR/zoo.cfg"
elif [ -f "$base/conf/zoo.cfg" ]; then
  ZOOCFG="$base/conf/zoo.cfg"
else
  ZOOCFG="$base/config/zookeeper.properties"
fi
ZOOCFG="$(cd "$(dirname "$ZOOCFG")" 2>/dev/null && pwd)/$(basename "$ZOOCFG")"

echo "ZooKeeper JMX enabled by default" >&2
echo "Using config: $ZOOCFG" >&2

cfg_value() {
  grep -E "^[[:space:]]*$1[[:space:]]*=" "$ZOOCFG" 2>/dev/null | tail -1 | sed -e 's/^[^=]*=[[:space:]]*//' -e 's/[[:space:]]*$//'
}
ZOO_DATADIR="$(cfg_value dataDir)"
ZOO_DATADIR="${ZOO_DATADIR:-/tmp/zookeeper}"
ZOOPIDFILE="${ZOOPIDFILE:-$ZOO_DATADIR/zookeeper_server.pid}"
ZOO_LOG_DIR="${ZOO_LOG_DIR:-${LOG_DIR:-$base/logs}}"

client_port() {
  local p
  p="$(cfg_value clientPort)"
  if [ -z "$p" ]; then
    p="$(grep -E '^[[:space:]]*server\.[0-9]+=' "$ZOOCFG" | head -1 | sed -n 's/.*;\([^:]*:\)\{0,1\}\([0-9]*\)$/\2/p')"
  fi
  echo "${p:-2181}"
}
client_addr() {
  local a
  a="$(cfg_value clientPortAddress)"
  echo "${a:-localhost}"
}

case "$1" in
start)
  echo -n "Starting zookeeper ... " >&2
  if [ -f "$ZOOPIDFILE" ] && kill -0 "$(cat "$ZOOPIDFILE")" >/dev/null 2>&1; then
    echo "already running as process $(cat "$ZOOPIDFILE")." >&2
    exit 1
  fi
  bin="$(kafka_find_binary zookeeperd)" || exit 1
  mkdir -p "$ZOO_LOG_DIR" "$(dirname "$ZOOPIDFILE")"
  nohup "$bin" "$ZOOCFG" >"$ZOO_LOG_DIR/zookeeper.out" 2>&1 </dev/null &
  pid=$!
  if echo "$pid" >"$ZOOPIDFILE"; then
    sleep 1
    if kill -0 "$pid" >/dev/null 2>&1; then
      echo STARTED >&2
    else
      echo "FAILED TO START" >&2
      exit 1
    fi
  else
    echo "FAILED TO WRITE PID" >&2
    exit 1
  fi
  ;;
start-foreground)
  bin="$(kafka_find_binary zookeeperd)" || exit 1
  exec "$bin" "$ZOOCFG"
  ;;
stop)
  echo -n "Stopping zookeeper ... " >&2
  if [ ! -f "$ZOOPIDFILE" ]; then
    echo "no zookeeper to stop (could not find file $ZOOPIDFILE)" >&2
  else
    pid="$(cat "$ZOOPIDFILE")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$ZOOPIDFILE"
    echo STOPPED >&2
  fi
  exit 0
  ;;
restart)
  shift
  "$0" stop "$@"
  "$0" start "$@"
  ;;
status)
  port="$(client_port)"
  addr="$(client_addr)"
  echo "Client port found: $port. Client address: $addr. Client SSL: false." >&2
  STAT=""
  if exec 3<>"/dev/tcp/$addr/$port" 2>/dev/null; then
    printf 'srvr' >&3
    STAT="$(timeout 5 cat <&3 | grep Mode)"
    exec 3<&- 3>&-
  fi
  if [ -z "$STAT" ]; then
    echo "Error contacting service. It is probably not running." >&2
    exit 1
  fi
  echo "$STAT"
  exit 0
  ;;
*)
  echo "Usage: $0 [--config <conf-dir>] {start|start-foreground|stop|version|restart|status|print-cmd}" >&2
  ;;
esac

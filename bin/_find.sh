# Sourced by the bin/*.sh wrappers: locate a workspace binary ($1) next to
# the scripts (../libexec, ../bin), in an installed layout, or in the
# cargo target dirs (release before debug). $KAFKA_TOOLS_BIN_DIR overrides.
kafka_find_binary() {
  local name="$1" here dir
  here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
  for dir in ${KAFKA_TOOLS_BIN_DIR:+"$KAFKA_TOOLS_BIN_DIR"} \
             "$here/../libexec" \
             ${CARGO_TARGET_DIR:+"$CARGO_TARGET_DIR/release" "$CARGO_TARGET_DIR/debug"} \
             "$here/../target/release" "$here/../target/debug"; do
    if [ -x "$dir/$name" ]; then
      printf '%s\n' "$dir/$name"
      return 0
    fi
  done
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return 0
  fi
  echo "$(basename "${BASH_SOURCE[1]}"): cannot find the $name binary (looked in ../libexec, ../target/release, ../target/debug; set KAFKA_TOOLS_BIN_DIR)" >&2
  return 1
}

# kafka_server_start BINARY OUTFILE USAGE [-daemon] CONFIG [ARGS...]
# What kafka-server-start.sh and zookeeper-server-start.sh share: drop the
# Java launcher's -name/-loggc options, and with -daemon detach and log to
# $LOG_DIR/OUTFILE (LOG_DIR defaults to ../logs); else exec in place.
kafka_server_start() {
  local name="$1" outfile="$2" usage="$3" bin daemon=0 base_dir
  shift 3
  if [ $# -lt 1 ]; then
    echo "$usage"
    exit 1
  fi
  bin="$(kafka_find_binary "$name")" || exit 1
  if [ "$1" = "-daemon" ]; then daemon=1; shift; fi
  while [ $# -gt 0 ] && { [ "$1" = "-name" ] || [ "$1" = "-loggc" ]; }; do
    [ "$1" = "-name" ] && shift
    shift
  done
  if [ $daemon -eq 1 ]; then
    base_dir="$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)"
    LOG_DIR="${LOG_DIR:-$base_dir/logs}"
    mkdir -p "$LOG_DIR"
    nohup "$bin" "$@" >"$LOG_DIR/$outfile" 2>&1 </dev/null &
    exit 0
  fi
  exec "$bin" "$@"
}

# kafka_server_stop BINARY WHAT: SIGTERM (or $SIGNAL) every BINARY process
# of this user, as Kafka's stop scripts do for their JVMs.
kafka_server_stop() {
  local pids
  pids=$(pgrep -u "$(id -u)" -x "$1")
  if [ -z "$pids" ]; then
    echo "No $2 server to stop"
    exit 1
  fi
  kill -s "${SIGNAL:-TERM}" $pids
}

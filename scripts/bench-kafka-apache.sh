#!/usr/bin/env bash
# kafkad vs Apache Kafka 3.9.0 (ZooKeeper mode), back to back in one run on
# this machine. Prints markdown tables for BENCHMARKS.md on stdout (progress
# goes to stderr).
#
# Both kinds of broker get the same server.properties (Kafka's defaults: no
# explicit flush, num.partitions=1, group.initial.rebalance.delay.ms=0,
# offsets.topic.replication.factor = number of brokers), a fresh zookeeperd
# (target/release) as their ZooKeeper, and log.dirs on the same disk under
# target/bench/kafka-apache. Apache Kafka is kafka.Kafka from the kafka_2.13
# artifact in tests/java/pom.xml (classpath from Maven, Kafka's reload4j
# logging), run as kafka-server-start.sh runs it: -Xmx1G -Xms1G, G1 and
# Kafka's KAFKA_JVM_PERFORMANCE_OPTS, default JIT (C2).
#
# Each kind is warmed up first (WARMUP_SECS of produce and consume load,
# discarded), so Apache's JIT is warm; kafkad gets the same warm-up. Then:
#   single broker: record sizes 100 B and 1 KB x topics of 1 and 12
#     partitions x {produce acks=1, produce acks=all, consume all from the
#     beginning}, each with Kafka's own kafka-producer-perf-test /
#     kafka-consumer-perf-test (org.apache.kafka.tools.ProducerPerformance /
#     ConsumerPerformance, one JVM per run) and with librdkafka's
#     rdkafka_performance (built as scripts/bench-kafka.sh builds it);
#     end-to-end latency with org.apache.kafka.tools.EndToEndLatency.
#   three brokers of each kind on one zookeeperd, RF 3: 100 B, 12 partitions,
#     produce acks=all, consume, end-to-end latency (acks=all).
#
# Environment:
#   QUICK=1        short mode: COUNT=20000, E2E_COUNT=1000, WARMUP_SECS=10 (legs of at least 3 s)
#   COUNT          records per produce run at 100 B (default 1000000)
#   COUNT_1K       records per produce run at 1 KB (default COUNT/4)
#   E2E_COUNT      EndToEndLatency round trips (default 10000)
#   WARMUP_SECS    warm-up load per broker kind (default 20)
#   RUN_TIMEOUT    seconds before one tool run is abandoned (default 300)
#   DEADLINE_SECS  seconds a broker / zookeeperd / topic may take to be ready (default 90)
#   ONLY           "single" or "cluster" to run one half only
#   SKIP_BUILD=1   do not run cargo build (the release binaries must be current)
#   MVN_ARGS       extra Maven arguments (e.g. -o)
#   KEEP=1         keep the brokers' data dirs under target/bench/kafka-apache
#   DEFAULT_CLIENTS=1  drop the client settings below (plain tool defaults)
#
# Client settings besides the tools' defaults (both brokers get the same):
#   rdkafka_performance -X linger.ms=5 (as scripts/bench-kafka.sh) -X retry.backoff.ms=10: when the
#     brokers-only Metadata answer to the bootstrap connection comes before the tool has named its
#     topic, librdkafka 2.12 drops the bootstrap connection and connects to the broker it learned
#     only at its next leader query, ~500 ms later; a sub-millisecond broker hits that race in a
#     few runs out of a hundred, a slower one less often.
#   consumers: fetch.max.wait.ms=10 (kafka-consumer-perf-test, via --consumer.config) and
#     fetch.wait.max.ms=10 (rdkafka_performance): a fetch that names only partitions already read
#     to their end is held by the broker for fetch.max.wait.ms (500 ms by default) while the other
#     partitions' data waits in the client; with 12 partitions the Java consumer read 1 KB records
#     at 3-17K records/s from either broker, i.e. it measured that timer. EndToEndLatency keeps its
#     defaults (the broker must answer a waiting fetch when the record arrives).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench
out=$work/kafka-apache
t_start=$(date +%s)

quick=${QUICK:-0}
if [ "$quick" = 1 ]; then d_count=20000 d_e2e=1000 d_warm=10; else d_count=1000000 d_e2e=10000 d_warm=20; fi
count=${COUNT:-$d_count}
count_1k=${COUNT_1K:-$((count / 4))}
e2e_count=${E2E_COUNT:-$d_e2e}
warmup=${WARMUP_SECS:-$d_warm}
run_timeout=${RUN_TIMEOUT:-300}
deadline=${DEADLINE_SECS:-90}
only=${ONLY:-}

cmdline="scripts/bench-kafka-apache.sh"
for v in QUICK COUNT COUNT_1K E2E_COUNT WARMUP_SECS ONLY DEFAULT_CLIENTS; do
  [ -n "${!v:-}" ] && cmdline="$v=${!v} $cmdline"
done

log() { echo "[$(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$out"
rm -rf "$out"/run && mkdir -p "$out/run"
run=$out/run
: >"$run/results.tsv"
: >"$run/errors.txt"

# ---------------------------------------------------------------- cleanup
procs=()        # every daemon this script started
cur_tool=""     # the tool run in progress (a `timeout` process)
cleanup() {
  local rc=$? p alive end
  trap - EXIT INT TERM
  [ -n "$cur_tool" ] && kill -TERM "$cur_tool" 2>/dev/null || true
  for p in "${procs[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  end=$(($(date +%s) + 20))
  while :; do
    alive=""
    for p in "${procs[@]}" $cur_tool; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    if [ "$(date +%s)" -ge "$end" ]; then
      # shellcheck disable=SC2086
      kill -KILL $alive 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$run"/*/data
  exit "$rc"
}
trap cleanup EXIT
set -E
trap 'log "failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- builds
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p zookeeperd -p kafkad"
  cargo build -q --release -p zookeeperd -p kafkad
fi
kafkad=$root/target/release/kafkad
zookeeperd=$root/target/release/zookeeperd
[ -x "$kafkad" ] && [ -x "$zookeeperd" ] || die "target/release/kafkad and zookeeperd are not built"

# rdkafka_performance from rdkafka-sys's bundled librdkafka.
. scripts/rdkafka-performance.sh
[ -x "$work/librdkafka/examples/rdkafka_performance" ] || log "building rdkafka_performance"
build_rdkafka_performance "$work"
rdk_version=$({ "$rp" -h 2>&1 || true; } | sed -n 's/^librdkafka version \([^ ]*\).*/\1/p' | head -1)

# Apache Kafka's classpath from Maven (tests/java/pom.xml), and Kafka's own
# logging (reload4j) copied by the pom into target/kafka-broker-lib.
command -v mvn >/dev/null && command -v java >/dev/null || die "needs java and mvn (scripts/test-java.sh installs them)"
log "resolving the Apache Kafka classpath with Maven"
# shellcheck disable=SC2086
mvn -q -B ${MVN_ARGS:-} -f tests/java/pom.xml generate-test-resources dependency:build-classpath \
  -Dmdep.outputFile="$run/classpath.txt" -Dmdep.includeScope=test >"$run/mvn.log" 2>&1 \
  || { cat "$run/mvn.log" >&2; die "maven failed"; }
tools_cp=$(cat "$run/classpath.txt")
case ":$tools_cp:" in
  */kafka_2.13-*) ;; *) die "kafka_2.13 is not on tests/java's classpath" ;;
esac
case ":$tools_cp:" in
  */kafka-tools-[0-9]*) ;; *) die "org.apache.kafka:kafka-tools is not on tests/java's classpath (add it to tests/java/pom.xml)" ;;
esac
kafka_version=$(tr ':' '\n' <<<"$tools_cp" | sed -n 's#.*/kafka_2\.13-\([0-9.]*\)\.jar$#\1#p' | head -1)
broker_cp=$(tr ':' '\n' <<<"$tools_cp" | grep -v '/slf4j-simple-' | paste -sd: -)
for j in "$root"/tests/java/target/kafka-broker-lib/*.jar; do broker_cp=$broker_cp:$j; done
case "$broker_cp" in *reload4j-*) ;; *) die "tests/java/target/kafka-broker-lib has no reload4j jars" ;; esac

# kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS; heaps as kafka-server-start.sh
# (-Xmx1G -Xms1G) and the perf-test scripts (-Xmx512M) set them.
jvm_perf=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true)
java_version=$(java -version 2>&1 | head -1)

# ---------------------------------------------------------------- helpers
cat >"$run/kzb.py" <<'PY'
import re, sys, time

def admin(bs):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bs})

def wait_brokers(bs, n, secs):
    end = time.time() + secs
    a = admin(bs)
    last = None
    while time.time() < end:
        try:
            md = a.list_topics(timeout=2)
            if len(md.brokers) == n:
                return
            last = "brokers %s" % sorted(md.brokers)
        except Exception as e:  # not serving yet
            last = str(e)
        time.sleep(0.1)
    sys.exit("cluster at %s did not list %d brokers within %ss (last: %s)" % (bs, n, secs, last))

def create_topic(bs, topic, parts, rf, secs):
    from confluent_kafka import KafkaException, KafkaError
    from confluent_kafka.admin import NewTopic
    end = time.time() + secs
    a = admin(bs)
    created, last = False, None
    while time.time() < end:
        if not created:
            try:
                a.create_topics([NewTopic(topic, parts, rf)])[topic].result(10)
                created = True
            except KafkaException as e:
                if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    created = True
                else:
                    last = str(e)
        if created:
            try:
                tm = a.list_topics(topic=topic, timeout=5).topics.get(topic)
                if tm is not None and tm.error is None and len(tm.partitions) == parts and all(
                        p.leader >= 0 and len(p.isrs) == rf for p in tm.partitions.values()):
                    return
                last = "metadata: %s" % (tm.error if tm is not None and tm.error else
                                         [(p.id, p.leader, p.isrs) for p in tm.partitions.values()] if tm else None)
            except Exception as e:
                last = str(e)
        time.sleep(0.1)
    sys.exit("topic %s (%d partitions, RF %d) not ready within %ss (last: %s)" % (topic, parts, rf, secs, last))

def mbs(rate, size):
    return "%.1f" % (rate * size / 1e6)

def parse(kind, path, expect, size):
    """Prints rate, MB/s, latency text, note (tab-separated); exits 1 if the run gave no result."""
    text = open(path, errors="replace").read()
    lines = text.splitlines()
    errs = [l for l in lines if re.search(r"Exception|ERROR|\bError\b|FAIL", l)]
    note = []
    if kind == "pp":
        rx = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                        r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th")
        m = [rx.match(l) for l in lines]
        m = [x for x in m if x]
        if not m:
            sys.exit(1)
        g = m[-1].groups()
        sent, rate = int(g[0]), float(g[1])
        lat = "%s / %s / %s (avg %s)" % (g[5], g[7], g[8], g[3])
        if sent != expect:
            note.append("sent %d of %d" % (sent, expect))
    elif kind == "cp":
        hdr = [i for i, l in enumerate(lines) if l.startswith("start.time, end.time")]
        if not hdr or hdr[-1] + 1 >= len(lines):
            sys.exit(1)
        f = [x.strip() for x in lines[hdr[-1] + 1].split(",")]
        got, rate = int(f[4]), float(f[9])   # fetch.nMsg.sec: without the group join
        lat = "-"
        if got != expect:
            note.append("consumed %d of %d" % (got, expect))
        note.append("join %s ms" % f[6])
    elif kind == "rp":
        rx = re.compile(r"% (\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset (-?\d+), (\d+) failed\) "
                        r"in (\d+)ms: (\d+) msgs/s")
        m = [x for x in (rx.search(l) for l in lines) if x]
        if not m:
            sys.exit(1)
        g = m[-1].groups()
        ok, failed, rate = int(g[2]), int(g[4]), float(g[6])
        lat = "-"
        if ok != expect or failed:
            note.append("delivered %d of %d, %d failed" % (ok, expect, failed))
    elif kind == "rc":
        rx = re.compile(r"% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs/s")
        m = [x for x in (rx.search(l) for l in lines) if x]
        if not m:
            sys.exit(1)
        g = m[-1].groups()
        got, rate = int(g[0]), float(g[3])
        lat = "-"
        if got != expect:
            note.append("consumed %d of %d" % (got, expect))
    elif kind == "e2e":
        a = re.search(r"Avg latency: ([\d.]+) ms", text)
        p = re.search(r"Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)", text)
        if not a or not p:
            sys.exit(1)
        rate = 1000.0 / float(a.group(1)) if float(a.group(1)) > 0 else 0.0
        lat = "%s / %s / %s (avg %s)" % (p.group(1), p.group(2), p.group(3), a.group(1))
    if errs:
        note.append("%d error lines" % len(errs))
    print("%d\t%s\t%s\t%s" % (round(rate), mbs(rate, size), lat, "; ".join(note)))

cmd = sys.argv[1]
if cmd == "wait-brokers":
    wait_brokers(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
elif cmd == "create-topic":
    create_topic(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
elif cmd == "parse":
    parse(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
PY
python3 -c 'import confluent_kafka' 2>/dev/null || die "needs the confluent-kafka Python package (as scripts/bench-kafka.sh)"
kzb() { python3 "$run/kzb.py" "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT PID LOG: until something listens on PORT, PID alive, with the deadline.
wait_port() {
  local end=$(($(date +%s) + deadline))
  until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; do
    kill -0 "$2" 2>/dev/null || { tail -30 "$3" >&2; die "process $2 exited before listening on $1 (log: $3)"; }
    [ "$(date +%s)" -lt "$end" ] || { tail -30 "$3" >&2; die "nothing listens on $1 after ${deadline}s (log: $3)"; }
    sleep 0.1
  done
}

rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# Mean VmRSS of the pids, MB.
rss_mean() {
  local p s=""
  for p in "$@"; do s="$s $(rss "$p")"; done
  awk '{t=0; for (i=1;i<=NF;i++) t+=$i; printf "%.1f", t/NF}' <<<"$s"
}

# run_tool SECS OUTFILE CMD...: one tool run with a deadline, output to OUTFILE.
# Run in the background and waited for, so that a signal reaches the trap at once.
run_tool() {
  local secs=$1 outf=$2 rc=0
  shift 2
  timeout -k 10 -s INT "$secs" "$@" >"$outf" 2>&1 &
  cur_tool=$!
  wait "$cur_tool" || rc=$?
  cur_tool=""
  return "$rc"
}

# Kafka's tools as kafka-run-class.sh runs them (slf4j-simple at WARN for their logging).
jtool=(java -Xmx512M "${jvm_perf[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$tools_cp")

# The client settings described at the top.
if [ "${DEFAULT_CLIENTS:-0}" = 1 ]; then
  : >"$run/consumer.properties"
  rdk_p=(-X linger.ms=5) rdk_c=()
  client_note="rdkafka_performance \`-X linger.ms=5\`, otherwise the tools' defaults"
else
  echo "fetch.max.wait.ms=10" >"$run/consumer.properties"
  rdk_p=(-X linger.ms=5 -X retry.backoff.ms=10) rdk_c=(-X fetch.wait.max.ms=10)
  client_note="rdkafka_performance \`-X linger.ms=5 -X retry.backoff.ms=10\` to produce and \`-X fetch.wait.max.ms=10\` to consume, kafka-consumer-perf-test \`fetch.max.wait.ms=10\`, otherwise the tools' defaults (why: the top of the script)"
fi

# ---------------------------------------------------------------- daemons
# start_zk DIR: a fresh zookeeperd; sets zk_port and zk_pid.
start_zk() {
  local d=$1
  mkdir -p "$d/data/zk"
  zk_port=$(free_port)
  printf 'tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n' \
    "$d/data/zk" "$zk_port" >"$d/zoo.cfg"
  "$zookeeperd" "$d/zoo.cfg" >"$d/zookeeperd.log" 2>&1 &
  zk_pid=$!
  procs+=("$zk_pid")
  wait_port "$zk_port" "$zk_pid" "$d/zookeeperd.log"
}

# start_brokers KIND N DIR: N brokers of KIND (apache|kafkad) on zk_port;
# sets broker_pids, broker_ports, bootstrap.
start_brokers() {
  local kind=$1 n=$2 d=$3 id bd port
  broker_pids=() broker_ports=()
  for id in $(seq 1 "$n"); do
    bd=$d/b$id
    mkdir -p "$bd" "$d/data/b$id"
    port=$(free_port)
    broker_ports+=("$port")
    cat >"$bd/server.properties" <<EOF
broker.id=$id
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$d/data/b$id
zookeeper.connect=127.0.0.1:$zk_port
num.partitions=1
offsets.topic.replication.factor=$n
transaction.state.log.replication.factor=$n
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    if [ "$kind" = apache ]; then
      printf '%s\n' 'log4j.rootLogger=INFO, stdout' 'log4j.appender.stdout=org.apache.log4j.ConsoleAppender' \
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout' \
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$bd/log4j.properties"
      java -Xmx1G -Xms1G "${jvm_perf[@]}" -Dlog4j.configuration="file:$bd/log4j.properties" -Dkafka.logs.dir="$bd" \
        -cp "$broker_cp" kafka.Kafka "$bd/server.properties" >"$bd/broker.log" 2>&1 &
    else
      "$kafkad" "$bd/server.properties" >"$bd/broker.log" 2>&1 &
    fi
    broker_pids+=("$!")
    procs+=("$!")
  done
  bootstrap=""
  for id in $(seq 1 "$n"); do
    wait_port "${broker_ports[id - 1]}" "${broker_pids[id - 1]}" "$d/b$id/broker.log"
    bootstrap="$bootstrap${bootstrap:+,}127.0.0.1:${broker_ports[id - 1]}"
  done
  kzb wait-brokers "$bootstrap" "$n" "$deadline" || die "$kind brokers not in the metadata (logs: $d/b*/broker.log)"
}

# stop PIDS...: TERM, then KILL after 20 s.
stop() {
  local p end=$(($(date +%s) + 20)) alive
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  while :; do
    alive=""
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    if [ "$(date +%s)" -ge "$end" ]; then
      # shellcheck disable=SC2086
      kill -KILL $alive 2>/dev/null || true
    fi
    sleep 0.2
  done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
  local keep=()
  for p in "${procs[@]}"; do case " $* " in *" $p "*) ;; *) keep+=("$p") ;; esac; done
  procs=("${keep[@]}")
}

# ---------------------------------------------------------------- measurement
# alive_or_die: every broker of the kind under test is still running.
alive_or_die() {
  local i
  for i in "${!broker_pids[@]}"; do
    if ! kill -0 "${broker_pids[i]}" 2>/dev/null; then
      tail -40 "$run/$kind_dir/b$((i + 1))/broker.log" >&2
      die "$server_label: broker $((i + 1)) (pid ${broker_pids[i]}) exited (log: $run/$kind_dir/b$((i + 1))/broker.log)"
    fi
  done
}

# record SECTION KEY CLIENT CASE TOOLKIND OUTFILE EXPECT SIZE RC
record() {
  local section=$1 key=$2 client=$3 case=$4 kind=$5 outf=$6 expect=$7 size=$8 rc=$9 res rate mbs lat note
  alive_or_die
  if res=$(kzb parse "$kind" "$outf" "$expect" "$size"); then
    IFS=$'\t' read -r rate mbs lat note <<<"$res"
    [ "$rc" = 0 ] || note="${note:+$note; }exit $rc"
  else
    rate=FAILED mbs=- lat=- note="exit $rc, no result"
  fi
  if [ -n "$note" ] && ! [[ "$note" =~ ^join\ [0-9]+\ ms$ ]]; then
    { echo "== $server_label | $client | $case: $note ($outf)"; tail -20 "$outf"; echo; } >>"$run/errors.txt"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$key" "$server_label" "$client" "$case" \
    "$rate" "$mbs" "$lat" "$(rss_mean "${broker_pids[@]}")" "$note" >>"$run/results.tsv"
  log "  $server_label | $client | $case: $rate rec/s ${mbs} MB/s ${lat} ${note}"
}

seq_no=0
next_out() { seq_no=$((seq_no + 1)); printf -v outf '%s/%s/out/%03d-%s.txt' "$run" "$kind_dir" "$seq_no" "$1"; }

# produce CLIENT TOPIC SIZE N ACKS -> sets rc, outf
pp() { # ProducerPerformance
  next_out "pp-$2-acks$5"; rc=0
  sync
  run_tool "$run_timeout" "$outf" "${jtool[@]}" org.apache.kafka.tools.ProducerPerformance --topic "$2" --num-records "$4" \
    --record-size "$3" --throughput -1 --producer-props "bootstrap.servers=$bootstrap" "acks=$5" || rc=$?
}
rp_produce() {
  local a=$5
  [ "$a" = all ] && a=-1
  next_out "rdk-p-$2-acks$5"; rc=0
  sync
  run_tool "$run_timeout" "$outf" "$rp" -P -t "$2" -b "$bootstrap" -s "$3" -c "$4" -a "$a" "${rdk_p[@]}" || rc=$?
}
cp_consume() { # TOPIC N
  next_out "cp-$1"; rc=0
  sync
  run_tool "$run_timeout" "$outf" "${jtool[@]}" org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$bootstrap" \
    --topic "$1" --messages "$2" --timeout 30000 --consumer.config "$run/consumer.properties" || rc=$?
}
rp_consume() { # TOPIC N
  next_out "rdk-c-$1"; rc=0
  sync
  run_tool "$run_timeout" "$outf" "$rp" -C -G "rdk-$1" -t "$1" -b "$bootstrap" -c "$2" -X auto.offset.reset=earliest "${rdk_c[@]}" || rc=$?
}

warm_up() { # RF
  local rf=$1 s1 s2 s3 s4 s5 o=$run/$kind_dir/out
  s1=$((warmup * 3 / 10)) s2=$((warmup * 3 / 10)) s3=$((warmup * 15 / 100)) s4=$((warmup * 15 / 100)) s5=$((warmup / 10))
  # a leg shorter than ~3 s is all JVM start-up or group join
  for v in s1 s2 s3 s4 s5; do [ "${!v}" -ge 3 ] || printf -v "$v" 3; done
  log "  warm-up (${warmup}s, discarded)"
  kzb create-topic "$bootstrap" warm 12 "$rf" "$deadline"
  run_tool "$s1" "$o/warm-1.txt" "${jtool[@]}" org.apache.kafka.tools.ProducerPerformance --topic warm --num-records 2000000000 \
    --record-size 100 --throughput -1 --producer-props "bootstrap.servers=$bootstrap" acks=1 || true
  run_tool "$s2" "$o/warm-2.txt" "${jtool[@]}" org.apache.kafka.tools.ProducerPerformance --topic warm --num-records 2000000000 \
    --record-size 1024 --throughput -1 --producer-props "bootstrap.servers=$bootstrap" acks=all || true
  run_tool "$s3" "$o/warm-3.txt" "$rp" -P -t warm -b "$bootstrap" -s 100 -c 2000000000 -a -1 "${rdk_p[@]}" || true
  run_tool "$s4" "$o/warm-4.txt" "${jtool[@]}" org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$bootstrap" \
    --topic warm --messages 2000000000 --timeout 5000 --consumer.config "$run/consumer.properties" || true
  run_tool "$s5" "$o/warm-5.txt" "$rp" -C -G rdk-warm -t warm -b "$bootstrap" -c 2000000000 -X auto.offset.reset=earliest "${rdk_c[@]}" || true
  kzb create-topic "$bootstrap" e2e-warm 1 "$rf" "$deadline"
  run_tool "$run_timeout" "$o/warm-6.txt" "${jtool[@]}" org.apache.kafka.tools.EndToEndLatency "$bootstrap" e2e-warm \
    "$(( e2e_count < 1000 ? e2e_count : 1000 ))" all 100 || true
}

e2e() { # SECTION RF
  local section=$1 rf=$2
  kzb create-topic "$bootstrap" e2e 1 "$rf" "$deadline"
  next_out e2e; rc=0
  sync
  run_tool "$run_timeout" "$outf" "${jtool[@]}" org.apache.kafka.tools.EndToEndLatency "$bootstrap" e2e "$e2e_count" all 100 || rc=$?
  record "$section" "9.0.0.0" "kafka-e2e-latency" "100 B, 1 partition, acks=all, end to end, one at a time ($e2e_count)" \
    e2e "$outf" "$e2e_count" 100 "$rc"
}

sizes=(100 1024)
size_names=("100 B" "1 KB")
parts_list=(1 12)
clients=(java rdk)

# bench KIND N: one kind of broker, N of them, from start to stop.
bench() {
  local kind=$1 n=$2 section rf si pi ci size cnt parts client topic label pname
  kind_dir=$kind-$n
  local d=$run/$kind_dir
  mkdir -p "$d/out"
  if [ "$kind" = apache ]; then label="Apache Kafka $kafka_version"; else label="kafkad"; fi
  if [ "$n" = 1 ]; then section=single; else section=cluster; label="$label ×$n, RF $n"; fi
  server_label=$label
  rf=$n
  local t_kind
  t_kind=$(date +%s)
  log "$label: starting zookeeperd and $n broker(s)"
  start_zk "$d"
  local t0 t1
  t0=$(date +%s%N)
  start_brokers "$kind" "$n" "$d"
  t1=$(date +%s%N)
  local idle
  idle=$(rss_mean "${broker_pids[@]}")
  log "  ready in $(( (t1 - t0) / 1000000 )) ms, idle RSS $idle MB"
  warm_up "$rf"
  for si in 0 1; do
    size=${sizes[si]}
    if [ "$si" = 0 ]; then cnt=$count; else cnt=$count_1k; fi
    if [ "$section" = cluster ] && [ "$si" = 1 ]; then continue; fi
    for pi in 0 1; do
      parts=${parts_list[pi]}
      if [ "$section" = cluster ] && [ "$pi" = 0 ]; then continue; fi
      if [ "$parts" = 1 ]; then pname="1 partition"; else pname="$parts partitions"; fi
      for ci in 0 1; do
        client=${clients[ci]}
        topic=t$size-p$parts-$client
        kzb create-topic "$bootstrap" "$topic" "$parts" "$rf" "$deadline"
        local acks_list=(1 all) oi
        [ "$section" = cluster ] && acks_list=(all)
        for acks in "${acks_list[@]}"; do
          if [ "$acks" = 1 ]; then oi=0; else oi=1; fi
          if [ "$client" = java ]; then
            pp "$client" "$topic" "$size" "$cnt" "$acks"
            record "$section" "$si.$pi.$oi.$ci" kafka-producer-perf-test "${size_names[si]}, $pname, produce acks=$acks" pp "$outf" "$cnt" "$size" "$rc"
          else
            rp_produce "$client" "$topic" "$size" "$cnt" "$acks"
            record "$section" "$si.$pi.$oi.$ci" rdkafka_performance "${size_names[si]}, $pname, produce acks=$acks" rp "$outf" "$cnt" "$size" "$rc"
          fi
        done
        local total=$((cnt * ${#acks_list[@]}))
        if [ "$client" = java ]; then
          cp_consume "$topic" "$total"
          record "$section" "$si.$pi.2.$ci" kafka-consumer-perf-test "${size_names[si]}, $pname, consume $total from the beginning" cp "$outf" "$total" "$size" "$rc"
        else
          rp_consume "$topic" "$total"
          record "$section" "$si.$pi.2.$ci" rdkafka_performance "${size_names[si]}, $pname, consume $total from the beginning" rc "$outf" "$total" "$size" "$rc"
        fi
      done
    done
  done
  e2e "$section" "$rf"
  local after
  after=$(rss_mean "${broker_pids[@]}")
  printf '%s\t%s\t%s\t%s\t%s\n' "$section" "$label" "$(( (t1 - t0) / 1000000 ))" "$idle" "$after" >>"$run/rss.tsv"
  log "  RSS after the runs $after MB; $label took $(( $(date +%s) - t_kind ))s; stopping"
  stop "${broker_pids[@]}"
  stop "$zk_pid"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$d/data"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "records: $count x 100 B, $count_1k x 1 KB per produce run; e2e $e2e_count; warm-up ${warmup}s; output in $run"
: >"$run/rss.tsv"
if [ "$only" != cluster ]; then
  bench apache 1
  bench kafkad 1
fi
if [ "$only" != single ]; then
  bench apache 3
  bench kafkad 3
fi
elapsed=$(( $(date +%s) - t_start ))

# ---------------------------------------------------------------- report
kafkad_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- kafkad zookeeperd shared 2>/dev/null || kafkad_rev="$kafkad_rev+dirty"

table() { # SECTION
  echo "| server | client | case | records/s | MB/s | p50 / p99 / p99.9 ms | RSS MB |"
  echo "|---|---|---|---:|---:|---|---:|"
  awk -F'\t' -v s="$1" '$1 == s' "$run/results.tsv" | sort -t$'\t' -k2,2 -s | awk -F'\t' '{
    c = $5; if ($10 != "") c = c " (" $10 ")"
    printf "| %s | %s | %s | %s | %s | %s | %s |\n", $3, $4, c, $6, $7, $8, $9 }'
}
ratios() { # SECTION: kafkad / apache per case and client
  echo "| case | client | Apache records/s | kafkad records/s | kafkad ÷ Apache |"
  echo "|---|---|---:|---:|---:|"
  awk -F'\t' -v s="$1" '$1 == s' "$run/results.tsv" | sort -t$'\t' -k2,2 -s | awk -F'\t' '
    { k = $2 SUBSEP $4; if (!(k in cs)) { order[++n] = k; cs[k] = $5; cl[k] = $4 }
      if ($3 ~ /^Apache/) a[k] = $6; else b[k] = $6 }
    END { for (i = 1; i <= n; i++) { k = order[i]; r = "-"
            if (a[k] ~ /^[0-9]+$/ && b[k] ~ /^[0-9]+$/ && a[k] > 0) r = sprintf("%.2f", b[k] / a[k])
            printf "| %s | %s | %s | %s | %s |\n", cs[k], cl[k], a[k], b[k], r } }'
}
rss_lines() { # SECTION
  awk -F'\t' -v s="$1" '$1 == s { printf "- %s: serving (in the metadata) %s ms after start; idle RSS %s MB; RSS after its runs %s MB%s\n", $2, $3, $4, $5, (s == "cluster" ? " (mean per broker)" : "") }' "$run/rss.tsv"
}

cat <<EOF
Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores (load average at the start: $load_start), ${elapsed}s in all:

    $cmdline

kafkad $kafkad_rev and zookeeperd (release) vs Apache Kafka $kafka_version (\`kafka.Kafka\`, ZooKeeper mode,
$java_version, \`-Xmx1G -Xms1G\` G1 as kafka-server-start.sh), each on a fresh zookeeperd, the same
server.properties (no explicit flush, Kafka's defaults otherwise) and log.dirs under target/bench. Both warmed up
for ${warmup}s first (discarded). Clients: Kafka $kafka_version's kafka-producer-perf-test /
kafka-consumer-perf-test / EndToEndLatency (\`org.apache.kafka.tools.*\`, one JVM each) and rdkafka_performance
(librdkafka $rdk_version; consume with \`-G\`); $client_note.
$count records per produce run at 100 B, $count_1k at 1 KB; each topic is produced with acks=1 then acks=all, then
consumed in full. records/s of kafka-consumer-perf-test is its fetch.nMsg.sec (without the group join, as
rdkafka_performance counts from the first message). MB/s = records/s × value size / 10^6. p50 / p99 / p99.9 of
produce rows: kafka-producer-perf-test's send-to-ack latency at full load (integer ms); of the end-to-end row:
EndToEndLatency (produce one record, acks=all, until the consumer polls it; integer ms, avg to 0.1 µs),
whose records/s is 1000 / avg. RSS: the broker's VmRSS after that run.

### One broker

EOF
table single
echo
ratios single
echo
rss_lines single
echo
cat <<EOF
### Three brokers, replication factor 3 (all on this machine)

EOF
table cluster
echo
ratios cluster
echo
rss_lines cluster
if [ -s "$run/errors.txt" ]; then
  echo
  echo "Errors and short runs (full text in $run/errors.txt):"
  echo
  grep '^== ' "$run/errors.txt" | sed 's/^== /- /'
fi
log "done in ${elapsed}s"

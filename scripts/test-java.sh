#!/usr/bin/env bash
# The Java ecosystem against the built daemons: Apache Curator and the
# ZooKeeper 3.8 client against a three-member zookeeperd ensemble,
# kafka-clients and kafka-streams 3.9 against three kafkad brokers, the newest
# kafka-clients 4.x (a JVM of its own) against kafkad and Apache Kafka 3.9,
# Apache Kafka 3.9's own brokers (ZooKeeper mode, JVMs from Maven) on
# zookeeperd, and Kafka 3.9's own command-line tools run against an Apache
# Kafka broker and a kafkad broker with their transcripts compared
# (tests/java, JUnit 5 under Maven Surefire). The binaries must
# be built first (cargo build --bins); ZOOKEEPERD_BIN / KAFKAD_BIN override their
# paths. Extra arguments go to Maven, e.g. -o (offline, once the
# dependencies are downloaded) or -Dtest=CuratorEnsembleTest.
# ZK_TARGET=apache runs the ZooKeeper-side tests against Debian's Apache
# ZooKeeper instead (a check of the tests' expectations).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi

target="${CARGO_TARGET_DIR:-$root/target}"
export ZOOKEEPERD_BIN="${ZOOKEEPERD_BIN:-$target/debug/zookeeperd}"
export KAFKAD_BIN="${KAFKAD_BIN:-$target/debug/kafkad}"
for b in "$ZOOKEEPERD_BIN" "$KAFKAD_BIN"; do
  if [ ! -x "$b" ]; then
    echo "test-java: $b is not built (cargo build --bins)" >&2
    exit 1
  fi
done

reports=tests/java/target/surefire-reports
rm -rf "$reports"
status=0
mvn -q -B -f tests/java/pom.xml test "$@" || status=$?

# One closing line from the reports: N passed, N failed, N skipped.
summary=$(cat "$reports"/TEST-*.xml 2>/dev/null | grep -o '<testsuite [^>]*>' | awk '
  function attr(name,   m) { return match($0, " " name "=\"[0-9]+\"") ? substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 4) + 0 : 0 }
  { t += attr("tests"); e += attr("errors"); s += attr("skipped"); f += attr("failures") }
  END { if (NR) printf "%d passed, %d failed, %d skipped\n", t - e - s - f, e + f, s }')
if [ "$status" -ne 0 ]; then
  echo "test-java: daemon logs of failed tests are in $reports/*-output.txt" >&2
fi
echo "java: ${summary:-0 passed, 0 failed}"
exit "$status"

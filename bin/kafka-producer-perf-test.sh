#!/usr/bin/env bash
# kafka-producer-perf-test, as Kafka's bin/kafka-producer-perf-test.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-producer-perf-test "$@"

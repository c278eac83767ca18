#!/usr/bin/env bash
# kafka-consumer-perf-test, as Kafka's bin/kafka-consumer-perf-test.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-consumer-perf-test "$@"

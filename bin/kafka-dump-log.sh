#!/usr/bin/env bash
# kafka-dump-log, as Kafka's bin/kafka-dump-log.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-dump-log "$@"

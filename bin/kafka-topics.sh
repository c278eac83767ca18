#!/usr/bin/env bash
# kafka-topics, as Kafka's bin/kafka-topics.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-topics "$@"

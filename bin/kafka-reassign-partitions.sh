#!/usr/bin/env bash
# kafka-reassign-partitions, as Kafka's bin/kafka-reassign-partitions.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-reassign-partitions "$@"

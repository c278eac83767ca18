#!/usr/bin/env bash
# kafka-get-offsets, as Kafka's bin/kafka-get-offsets.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-get-offsets "$@"

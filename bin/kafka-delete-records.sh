#!/usr/bin/env bash
# kafka-delete-records, as Kafka's bin/kafka-delete-records.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-delete-records "$@"

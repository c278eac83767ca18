#!/usr/bin/env bash
# kafka-broker-api-versions, as Kafka's bin/kafka-broker-api-versions.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-broker-api-versions "$@"

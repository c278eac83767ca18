#!/usr/bin/env bash
# kafka-console-consumer, as Kafka's bin/kafka-console-consumer.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-console-consumer "$@"

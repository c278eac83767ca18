#!/usr/bin/env bash
# kafka-console-producer, as Kafka's bin/kafka-console-producer.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-console-producer "$@"

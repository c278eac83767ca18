#!/usr/bin/env bash
# kafka-preferred-replica-election, as Kafka's bin/kafka-preferred-replica-election.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" kafka-preferred-replica-election "$@"

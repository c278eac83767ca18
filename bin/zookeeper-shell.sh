#!/usr/bin/env bash
# zookeeper-shell, as Kafka's bin/zookeeper-shell.sh: runs the kafka-tools binary.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
bin="$(kafka_find_binary kafka-tools)" || exit 1
exec "$bin" zookeeper-shell "$@"

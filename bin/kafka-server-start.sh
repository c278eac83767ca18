#!/usr/bin/env bash
# kafka-server-start.sh [-daemon] server.properties [--override property=value]*
# Runs kafkad (Kafka's script runs kafka.Kafka). With -daemon it detaches
# and logs to $LOG_DIR/kafkaServer.out (LOG_DIR defaults to ../logs).
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
kafka_server_start kafkad kafkaServer.out "USAGE: $0 [-daemon] server.properties [--override property=value]*" "$@"

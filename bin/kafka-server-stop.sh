#!/usr/bin/env bash
# kafka-server-stop.sh: SIGTERM every kafkad process of this user, as
# Kafka's script does for kafka.Kafka JVMs (kafkad shuts down cleanly).
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
kafka_server_stop kafkad kafka

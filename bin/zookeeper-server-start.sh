#!/usr/bin/env bash
# zookeeper-server-start.sh [-daemon] zookeeper.properties
# Runs zookeeperd (Kafka's script runs QuorumPeerMain). With -daemon it
# detaches and logs to $LOG_DIR/zookeeper.out (LOG_DIR defaults to ../logs).
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
kafka_server_start zookeeperd zookeeper.out "USAGE: $0 [-daemon] zookeeper.properties" "$@"

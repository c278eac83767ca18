#!/usr/bin/env bash
# zookeeper-server-stop.sh: SIGTERM every zookeeperd process of this user.
. "$(dirname "${BASH_SOURCE[0]}")/_find.sh"
kafka_server_stop zookeeperd zookeeper

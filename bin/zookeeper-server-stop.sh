#!/usr/bin/env bash
# zookeeper-server-stop.sh: SIGTERM every zookeeperd process of this user.
SIGNAL=${SIGNAL:-TERM}
PIDS=$(pgrep -u "$(id -u)" -x zookeeperd)
if [ -z "$PIDS" ]; then
  echo "No zookeeper server to stop"
  exit 1
else
  kill -s "$SIGNAL" $PIDS
fi

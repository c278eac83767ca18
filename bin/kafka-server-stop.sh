#!/usr/bin/env bash
# kafka-server-stop.sh: SIGTERM every kafkad process of this user, as
# Kafka's script does for kafka.Kafka JVMs (kafkad shuts down cleanly).
SIGNAL=${SIGNAL:-TERM}
PIDS=$(pgrep -u "$(id -u)" -x kafkad)
if [ -z "$PIDS" ]; then
  echo "No kafka server to stop"
  exit 1
else
  kill -s "$SIGNAL" $PIDS
fi

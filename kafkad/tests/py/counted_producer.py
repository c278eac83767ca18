"""Produce COUNT records "v0".."v{COUNT-1}" with acks=all and idempotence,
printing "ACK <partition> <offset> <value>" per acknowledged record and
"ERR <value> <error>" per failed one (stdout, line-buffered), then
"DONE". Retries ride out a leader failover. Usage:
counted_producer.py BOOTSTRAP TOPIC COUNT"""
import sys

from confluent_kafka import Producer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
              "linger.ms": 5, "message.timeout.ms": 60000, "retry.backoff.ms": 100,
              "topic.metadata.refresh.interval.ms": 1000})


def cb(err, msg):
    if err is None:
        print(f"ACK {msg.partition()} {msg.offset()} {msg.value().decode()}", flush=True)
    else:
        print(f"ERR {msg.value().decode()} {err}", flush=True)


for i in range(count):
    while True:
        try:
            p.produce(topic, value=f"v{i}".encode(), on_delivery=cb)
            break
        except BufferError:
            p.poll(0.05)
    # Pace the stream so a failover happens in the middle of it.
    p.poll(0.002)
p.flush(90)
print("DONE", flush=True)

"""Produce forever with acks=all, printing "ACK <partition> <offset> <value>"
for every acknowledged record (stdout, line-buffered). Usage:
ack_producer.py BOOTSTRAP TOPIC. Delivery failures are printed as ERR."""
import sys

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
              "linger.ms": 2, "message.timeout.ms": 5000})


def cb(err, msg):
    if err is None:
        print(f"ACK {msg.partition()} {msg.offset()} {msg.value().decode()}", flush=True)
    else:
        print(f"ERR {err}", flush=True)


i = 0
while True:
    try:
        p.produce(topic, value=f"v{i}".encode(), on_delivery=cb)
        i += 1
    except BufferError:
        p.poll(0.05)
    p.poll(0)
    if i % 50 == 0:
        p.poll(0.01)

"""Consume COUNT records of TOPIC in consumer group GROUP, commit the
position synchronously, and report: 'FIRST <offset>', 'COMMITTED <offset>'.
Usage: group_resume.py BOOTSTRAP TOPIC GROUP COUNT [close|noclose].
Prints ALL OK at the end."""
import sys
import time

from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
close = len(sys.argv) < 6 or sys.argv[5] == "close"
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000})
c.subscribe([topic])
got = []
deadline = time.time() + 60
while len(got) < count and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print("FAIL:", m.error(), flush=True)
        sys.exit(1)
    got.append(m)
if len(got) < count:
    print(f"FAIL: consumed {len(got)} of {count}", flush=True)
    sys.exit(1)
print("FIRST", got[0].offset(), flush=True)
last = got[count - 1]
c.commit(offsets=[TopicPartition(topic, last.partition(), last.offset() + 1)], asynchronous=False)
print("COMMITTED", last.offset() + 1, flush=True)
if close:
    c.close()
print("ALL OK", flush=True)

"""Join consumer group GROUP on TOPIC (partition 0), then commit offsets
0..COMMITS-1 (mod 10) one synchronous commit at a time, and finally FINAL,
so __consumer_offsets holds many records for one key. Leaves the group.
Usage: offset_churn.py BOOTSTRAP TOPIC GROUP COMMITS FINAL. Prints ALL OK."""
import sys
import time

from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
commits, final = int(sys.argv[4]), int(sys.argv[5])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000})
c.subscribe([topic])
deadline = time.time() + 60
while not c.assignment() and time.time() < deadline:
    c.poll(0.2)
if not c.assignment():
    print("FAIL: no assignment", flush=True)
    sys.exit(1)
for i in range(commits):
    c.commit(offsets=[TopicPartition(topic, 0, i % 10)], asynchronous=False)
c.commit(offsets=[TopicPartition(topic, 0, final)], asynchronous=False)
got = c.committed([TopicPartition(topic, 0)], timeout=10)
if got[0].offset != final:
    print("FAIL: committed", got[0].offset, "expected", final, flush=True)
    sys.exit(1)
c.close()
print("ALL OK", flush=True)

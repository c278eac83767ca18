"""isolation.level=read_committed against a broker without transactions:
the last stable offset is the high watermark, so a read_committed
consumer sees every record a plain (and an idempotent) producer wrote,
and ListOffsets(latest, READ_COMMITTED) answers the LSO = the HW.
Usage: read_committed.py BOOTSTRAP TOPIC. The topic has 3 partitions.
Prints ALL OK."""
import sys
import time

from confluent_kafka import Consumer, IsolationLevel, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

bootstrap, topic = sys.argv[1], sys.argv[2]
N = 600


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


for idempotent, base in [(False, 0), (True, N // 2)]:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": idempotent, "linger.ms": 5})
    for i in range(base, base + N // 2):
        p.produce(topic, key=str(i).encode(), value=f"rc-{i}".encode())
    if p.flush(30) != 0:
        fail("producer did not deliver everything")

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rc-group", "isolation.level": "read_committed",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
seen = set()
deadline = time.time() + 60
while len(seen) < N and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        fail(str(m.error()))
    v = m.value().decode()
    if v in seen:
        fail(f"{v} delivered twice")
    seen.add(v)
if seen != {f"rc-{i}" for i in range(N)}:
    fail(f"read_committed consumer got {len(seen)} of {N} records")
c.close()

# ListOffsets: latest with READ_COMMITTED is the LSO, which equals the HW.
admin = AdminClient({"bootstrap.servers": bootstrap})
parts = [TopicPartition(topic, p) for p in range(3)]
lso, hw = {}, {}
for level, out in [(IsolationLevel.READ_COMMITTED, lso), (IsolationLevel.READ_UNCOMMITTED, hw)]:
    futs = admin.list_offsets({tp: OffsetSpec.latest() for tp in parts}, isolation_level=level, request_timeout=20)
    for tp, f in futs.items():
        try:
            out[tp.partition] = f.result(30).offset
        except KafkaException as e:
            fail(f"list_offsets {level} partition {tp.partition}: {e}")
if lso != hw or sum(lso.values()) != N or min(lso.values()) <= 0:
    fail(f"READ_COMMITTED latest {lso} vs READ_UNCOMMITTED latest {hw}, {N} records")
print("LSO", sorted(lso.items()), flush=True)
print("ALL OK", flush=True)

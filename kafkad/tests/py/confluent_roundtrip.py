"""Drive kafkad with confluent-kafka (librdkafka): admin create/delete,
idempotent producer with every compression codec, a group consumer reading
everything back and committing. Usage: confluent_roundtrip.py BOOTSTRAP.
Exits non-zero with a message on the first failure."""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
N = 200


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


admin = AdminClient({"bootstrap.servers": bootstrap})
topics = [f"codec-{c}" for c in CODECS]
for t, f in admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1) for t in topics],
                                operation_timeout=20).items():
    try:
        f.result(30)
    except KafkaException as e:
        fail(f"create {t}: {e}")
# Creating again must report TOPIC_ALREADY_EXISTS.
for t, f in admin.create_topics([NewTopic(topics[0], 1, 1)]).items():
    try:
        f.result(30)
        fail("duplicate create succeeded")
    except KafkaException as e:
        if e.args[0].code() != 36:
            fail(f"duplicate create: unexpected {e}")
md = admin.list_topics(timeout=10)
for t in topics:
    if t not in md.topics or len(md.topics[t].partitions) != 2:
        fail(f"metadata missing {t}: {md.topics.keys()}")

for codec, topic in zip(CODECS, topics):
    acked = []
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                  "enable.idempotence": True, "acks": "all", "linger.ms": 5})

    def cb(err, msg):
        if err is not None:
            fail(f"{codec}: delivery failed: {err}")
        acked.append((msg.partition(), msg.offset()))

    for i in range(N):
        p.produce(topic, key=f"k{i}".encode(), value=f"{codec}-value-{i}".encode() * 3,
                  headers=[("h", b"1"), ("h", b"2")], on_delivery=cb)
        p.poll(0)
    if p.flush(30) != 0:
        fail(f"{codec}: flush left messages")
    if len(acked) != N:
        fail(f"{codec}: {len(acked)} acks")
    for part in (0, 1):
        offs = sorted(o for pp, o in acked if pp == part)
        if offs != list(range(len(offs))):
            fail(f"{codec}: partition {part} offsets not contiguous: {offs[:10]}")

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{codec}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000})
    c.subscribe([topic])
    got = []
    deadline = time.time() + 60
    while len(got) < N and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            fail(f"{codec}: consume error {m.error()}")
        got.append(m)
    if len(got) != N:
        fail(f"{codec}: consumed {len(got)} of {N}")
    values = sorted(m.value() for m in got)
    want = sorted(f"{codec}-value-{i}".encode() * 3 for i in range(N))
    if values != want:
        fail(f"{codec}: values differ")
    if [h for h in (got[0].headers() or [])] != [("h", b"1"), ("h", b"2")]:
        fail(f"{codec}: duplicate headers not preserved: {got[0].headers()}")
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    total = sum(tp.offset for tp in committed)
    if total != N:
        fail(f"{codec}: committed offsets sum {total}")
    c.close()
    print(f"ok {codec}", flush=True)

for t, f in admin.delete_topics(topics, operation_timeout=20).items():
    try:
        f.result(30)
    except KafkaException as e:
        fail(f"delete {t}: {e}")
deadline = time.time() + 20
while time.time() < deadline:
    left = set(topics) & set(admin.list_topics(timeout=10).topics)
    if not left:
        break
    time.sleep(0.2)
else:
    fail(f"topics not deleted: {left}")
print("ALL OK", flush=True)

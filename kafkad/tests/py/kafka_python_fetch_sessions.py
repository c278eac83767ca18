"""kafka-python (3.x) uses incremental fetch sessions (KIP-227, its
FetchSessionHandler): the broker hands out a session id on the first full
fetch and later fetches are incremental, answering only partitions with
news. Records are produced in waves while one consumer reads four
partitions; every record must arrive once, in order. Each fetch response
the client's session handler sees is recorded on the way through.
Usage: kafka_python_fetch_sessions.py BOOTSTRAP TOPIC. Prints ALL OK."""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import FetchSessionHandler

bootstrap, topic = sys.argv[1], sys.argv[2]
PARTS, WAVES, PER_WAVE = 4, 25, 40


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


seen = []  # (request epoch, response session id, error code, partitions answered, session size)
original = FetchSessionHandler.handle_response


def observing(self, response):
    parts = sum(len(t.partitions) for t in response.responses)
    seen.append((self.next_metadata.epoch, response.session_id, response.error_code, parts,
                 len(self.session_partitions)))
    return original(self, response)


FetchSessionHandler.handle_response = observing

producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         fetch_max_wait_ms=100)
tps = [TopicPartition(topic, p) for p in range(PARTS)]
consumer.assign(tps)
consumer.seek_to_beginning()
got = {p: [] for p in range(PARTS)}
for wave in range(WAVES):
    # Each wave writes to one or two partitions, so the others stay quiet
    # and an incremental answer leaves them out.
    for i in range(PER_WAVE):
        p = wave % PARTS if i % 4 else (wave + 1) % PARTS
        producer.send(topic, value=f"{p}:{wave}:{i}".encode(), partition=p)
    producer.flush(30)
    want = (wave + 1) * PER_WAVE
    deadline = time.time() + 30
    while sum(len(v) for v in got.values()) < want:
        if time.time() > deadline:
            fail(f"wave {wave}: consumed {sum(len(v) for v in got.values())} of {want}")
        for tp, msgs in consumer.poll(timeout_ms=200).items():
            got[tp.partition].extend((m.offset, m.value.decode()) for m in msgs)

for p, recs in got.items():
    offsets = [o for o, _ in recs]
    if offsets != list(range(len(offsets))):
        fail(f"partition {p}: offsets not 0.. once each: {offsets[:20]}")
    if any(not v.startswith(f"{p}:") for _, v in recs):
        fail(f"partition {p} holds another partition's record")
if sum(len(v) for v in got.values()) != WAVES * PER_WAVE:
    fail("record count")

ids = {s for _, s, _, _, _ in seen if s > 0}
incremental = [x for x in seen if x[0] > 0]
if len(ids) != 1:
    fail(f"want one session for the whole run, got ids {ids}")
if any(e != 0 for _, _, e, _, _ in seen):
    fail(f"fetch session errors: {[x for x in seen if x[2]]}")
if len(incremental) < WAVES // 2:
    fail(f"only {len(incremental)} incremental fetches")
if not any(parts < size for _, _, _, parts, size in incremental):
    fail(f"no incremental answer left a quiet partition out: {incremental[:10]}")
print("SESSION", ids.pop(), "INCREMENTAL", len(incremental), "MAX_EPOCH", max(e for e, *_ in seen), flush=True)
consumer.close()
producer.close()
print("ALL OK", flush=True)

"""kafka-python (3.x): a producer, and a two-member consumer group that
rebalances when one member leaves. Every record must be consumed exactly
once across the handover (members commit synchronously after each poll).
Usage: kafka_python_group.py BOOTSTRAP TOPIC GROUP. Prints ALL OK."""
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
PARTS = 4


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


MEMBERS = []


def wait(what, pred, timeout=60):
    deadline = time.time() + timeout
    while not pred():
        for m in MEMBERS:
            if m.error:
                fail(f"{m.name_}: {m.error}")
        if time.time() > deadline:
            state = [(m.name_, sorted(m.assigned), len(m.values())) for m in MEMBERS]
            fail(f"timed out waiting for {what}; members {state}")
        time.sleep(0.05)


class Member(threading.Thread):
    def __init__(self, name):
        super().__init__(daemon=True)
        self.name_ = name
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.got = []  # (partition, offset, value)
        self.assigned = set()
        self.error = None
        self.c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id=name,
                               enable_auto_commit=False, auto_offset_reset="earliest",
                               session_timeout_ms=10000, heartbeat_interval_ms=500,
                               max_poll_interval_ms=30000)

    def run(self):
        try:
            while not self.stop.is_set():
                batch = self.c.poll(timeout_ms=200)
                with self.lock:
                    for tp, msgs in batch.items():
                        for m in msgs:
                            self.got.append((tp.partition, m.offset, m.value.decode()))
                if batch:
                    # Commit what this poll returned before anything else:
                    # a commit that fails here would mean a re-read.
                    self.c.commit()
                with self.lock:
                    self.assigned = {tp.partition for tp in self.c.assignment()}
            self.c.close(autocommit=False)
        except Exception as e:  # reported by the main thread
            self.error = repr(e)

    def values(self):
        with self.lock:
            return list(self.got)


producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
# Create the topic first so both members see all partitions at once.
producer.send(topic, b"warmup-ignored", partition=0).get(timeout=30)
wait("partitions", lambda: len(producer.partitions_for(topic) or []) == PARTS)

a, b = Member("member-a"), Member("member-b")
MEMBERS.extend([a, b])
a.start()
b.start()
wait("two members with two partitions each",
     lambda: len(a.assigned) == 2 and len(b.assigned) == 2 and not (a.assigned & b.assigned))
print("ASSIGNED", sorted(a.assigned), sorted(b.assigned), flush=True)
b_parts = set(b.assigned)

sent = []
for i in range(200):
    v = f"r{i}"
    md = producer.send(topic, v.encode(), partition=i % PARTS).get(timeout=30)
    sent.append((md.partition, md.offset, v))


def consumed():
    return [x for x in a.values() + b.values() if not x[2].startswith("warmup")]


wait("first 200 records consumed", lambda: len(consumed()) >= 200)
if not b.values():
    fail("member b consumed nothing before leaving")
b.stop.set()
b.join(30)
MEMBERS.remove(b)
if b.error:
    fail("member b: " + b.error)

for i in range(200, 400):
    v = f"r{i}"
    md = producer.send(topic, v.encode(), partition=i % PARTS).get(timeout=30)
    sent.append((md.partition, md.offset, v))
producer.flush()

wait("member a owns every partition", lambda: a.assigned == set(range(PARTS)))
wait("all 400 records consumed", lambda: len(consumed()) >= 400)
a.stop.set()
a.join(30)
if a.error:
    fail("member a: " + a.error)

got = consumed()
if len(got) != len(set(got)):
    dups = sorted({x for x in got if got.count(x) > 1})[:10]
    fail(f"records read twice: {dups}")
if sorted(got) != sorted(sent):
    missing = sorted(set(sent) - set(got))[:10]
    fail(f"consumed set differs from produced; missing {missing}")
after = [x for x in a.values() if x[0] in b_parts and int(x[2][1:]) >= 200]
if not after:
    fail("member a read nothing from the partitions it took over")
print("HANDOVER", len(after), "records on", sorted(b_parts), flush=True)
print("ALL OK", flush=True)

"""Two confluent-kafka consumers with partition.assignment.strategy=
cooperative-sticky in one group: the second joins while the first owns
every partition; the incremental protocol moves only some partitions
(the first member never has all of them revoked), both end up owning a
share, and with synchronous commits every record is consumed exactly
once across the members (positions are committed when partitions are
revoked and at the end). Usage: cooperative_sticky.py BOOTSTRAP TOPIC
GROUP. The topic has 6 partitions. Prints ALL OK."""
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
PARTS = 6
N = 600


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def produce(lo, hi):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(lo, hi):
        p.produce(topic, key=str(i).encode(), value=f"cs-{i}".encode())
    if p.flush(30) != 0:
        fail("producer did not deliver everything")


class Member:
    def __init__(self, name):
        self.name = name
        self.events = []
        self.owned = set()
        self.got = []
        self.pending = {}  # partition -> next offset, not yet committed
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                           "partition.assignment.strategy": "cooperative-sticky",
                           "session.timeout.ms": 10000, "heartbeat.interval.ms": 300,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.c.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_lost)

    # The library calls incremental_assign/unassign after these return.
    def on_assign(self, c, parts):
        self.events.append(("assign", sorted(p.partition for p in parts)))
        self.owned |= {p.partition for p in parts}

    def on_revoke(self, c, parts):
        gone = {p.partition for p in parts}
        self.events.append(("revoke", sorted(gone)))
        # Hand over with the position committed, or the new owner re-reads.
        if not self.commit(only=gone):
            fail(f"{self.name}: commit on revoke failed")
        self.owned -= gone

    def on_lost(self, c, parts):
        self.events.append(("lost", sorted(p.partition for p in parts)))
        self.owned -= {p.partition for p in parts}

    def commit(self, only=None):
        offs = [TopicPartition(topic, p, o) for p, o in self.pending.items() if only is None or p in only]
        if not offs:
            return True
        try:
            self.c.commit(offsets=offs, asynchronous=False)
        except KafkaException as e:
            # Commits are refused while the group completes a rebalance
            # (as Kafka's coordinator does); keep them for the next try.
            if e.args[0].code() != KafkaError.REBALANCE_IN_PROGRESS:
                fail(f"{self.name}: commit: {e}")
            return False
        for tp in offs:
            if self.pending.get(tp.partition) == tp.offset:
                del self.pending[tp.partition]
        return True

    def poll(self):
        m = self.c.poll(0.05)
        if m is None:
            return
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                return
            fail(f"{self.name}: {m.error()}")
        if m.partition() not in self.owned:
            fail(f"{self.name} got partition {m.partition()} it does not own ({self.events})")
        self.got.append(m.value().decode())
        # Committed on revoke and at the end: a commit sent while the
        # member's JoinGroup is in flight carries the old generation and is
        # refused (ILLEGAL_GENERATION), by Kafka's coordinator too.
        self.pending[m.partition()] = m.offset() + 1


def until(what, pred, members, timeout=60):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            fail(f"timed out waiting for {what}: {[(m.name, m.events, sorted(m.owned), len(m.got)) for m in members]}")
        for m in members:
            m.poll()


produce(0, N // 2)
a = Member("coop-a")
until("the first member to own every partition and read some records",
      lambda: a.owned == set(range(PARTS)) and len(a.got) >= N // 4, [a])
b = Member("coop-b")
until("both members to own a share", lambda: a.owned and b.owned and len(a.owned) + len(b.owned) == PARTS
      and not (a.owned & b.owned), [a, b])
produce(N // 2, N)
until("every record consumed", lambda: len(a.got) + len(b.got) >= N, [a, b])
# A little more polling would surface duplicates arriving late.
deadline = time.time() + 2
while time.time() < deadline:
    a.poll()
    b.poll()
for m in (a, b):
    until(f"{m.name}'s last commits", lambda: m.commit(), [a, b])

every = a.got + b.got
if len(every) != len(set(every)):
    dups = sorted({v for v in every if every.count(v) > 1})
    fail(f"{len(every) - len(set(every))} records consumed twice: {dups[:10]}")
if set(every) != {f"cs-{i}" for i in range(N)}:
    fail(f"consumed {len(set(every))} distinct records of {N}")
# Incremental: the first member kept some partitions throughout; a
# revoke of everything would be the eager protocol.
revokes = [e for e in a.events if e[0] == "revoke"]
if not revokes or any(len(e[1]) == PARTS for e in revokes) or any(e[0] == "lost" for e in a.events + b.events):
    fail(f"not an incremental rebalance: a {a.events} b {b.events}")
print("A", a.events, "B", b.events, flush=True)
a.c.close()
b.c.close()
print("ALL OK", flush=True)

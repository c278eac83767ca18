// kafkajs against kafkad: admin createTopics, a producer, and a consumer
// group that reads every record once and commits. Usage:
// node roundtrip.js BOOTSTRAP TOPIC GROUP. Prints ALL OK.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, groupId] = process.argv.slice(2);
const COUNT = 60;
const kafka = new Kafka({ clientId: 'kafkad-js', brokers: [bootstrap], logLevel: logLevel.WARN });

function fail(msg) {
  console.log('FAIL:', msg);
  process.exit(1);
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  if (!created) fail('createTopics returned false');

  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < COUNT; i++) messages.push({ key: `k${i}`, value: `v${i}`, headers: { n: `${i}` } });
  const acks = await producer.send({ topic, messages, acks: -1 });
  if (acks.reduce((n, r) => n + 1, 0) === 0) fail('no produce acks');
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map();
  let done;
  const all = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommit: true,
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      const v = message.value.toString();
      if (seen.has(v)) fail(`read twice: ${v}`);
      if (message.headers.n.toString() !== v.slice(1)) fail(`header mismatch on ${v}`);
      if (message.key.toString() !== `k${v.slice(1)}`) fail(`key mismatch on ${v}`);
      seen.set(v, [partition, message.offset]);
      if (seen.size === COUNT) done();
    },
  });
  const timer = setTimeout(() => fail(`timed out with ${seen.size}/${COUNT} records`), 60000);
  await all;
  clearTimeout(timer);
  await consumer.disconnect(); // commits pending offsets and leaves the group

  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = offsets[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
  if (committed !== COUNT) fail(`committed offsets sum to ${committed}, want ${COUNT}: ${JSON.stringify(offsets)}`);
  const groups = await admin.describeGroups([groupId]);
  if (groups.groups[0].state !== 'Empty') fail(`group state ${groups.groups[0].state} after disconnect`);
  await admin.disconnect();
  console.log('CONSUMED', seen.size, 'COMMITTED', committed);
  console.log('ALL OK');
}

main().catch((e) => fail(e.stack || e));

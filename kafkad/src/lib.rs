//! kafkad: a Kafka-protocol broker on ZooKeeper (work in progress).

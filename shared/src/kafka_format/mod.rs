//! Kafka's on-disk and on-wire formats as plain codecs (no I/O), shared by
//! the broker and the tools.

pub mod batch;

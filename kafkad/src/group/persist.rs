//! Writing and loading `__consumer_offsets`: the topic is created on first
//! use (offsets.topic.num.partitions, compacted, replication factor
//! min(offsets.topic.replication.factor, live brokers)), records are
//! appended through the partition leader path like any produce with
//! acks=all, and a partition is replayed when this broker becomes its
//! leader.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;

use super::offsets::{self, Committed, OFFSETS_TOPIC};
use crate::broker::Broker;
use crate::log::batch::{self, BatchHeader};

impl Broker {
    pub fn offsets_partitions(&self) -> i32 {
        self.metadata()
            .topics
            .get(OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as i32)
            .filter(|n| *n > 0)
            .unwrap_or(self.config.offsets_topic_num_partitions)
    }

    pub fn coordinator_partition(&self, group: &str) -> i32 {
        offsets::partition_for(group, self.offsets_partitions())
    }

    /// Create __consumer_offsets if missing and wait (bounded) until every
    /// partition has a leader.
    pub async fn ensure_offsets_topic(&self) -> Result<(), ResponseError> {
        let ready = |md: &crate::metadata::ClusterMetadata| {
            md.topics
                .get(OFFSETS_TOPIC)
                .map(|t| !t.partitions.is_empty() && t.partitions.values().all(|p| p.leader >= 0))
                .unwrap_or(false)
        };
        if ready(&self.metadata()) {
            return Ok(());
        }
        if !self.metadata().topics.contains_key(OFFSETS_TOPIC) {
            let live = self.metadata().brokers.len().max(1) as i16;
            let rf = self.config.offsets_topic_replication_factor.clamp(1, live);
            if rf < self.config.offsets_topic_replication_factor {
                tracing::warn!(
                    configured = self.config.offsets_topic_replication_factor,
                    live,
                    "creating {OFFSETS_TOPIC} with replication factor {rf}: fewer live brokers than offsets.topic.replication.factor"
                );
            }
            let mut cfg = BTreeMap::new();
            cfg.insert("cleanup.policy".to_string(), "compact".to_string());
            cfg.insert("compression.type".to_string(), "producer".to_string());
            cfg.insert("segment.bytes".to_string(), "104857600".to_string());
            match self.create_topic(OFFSETS_TOPIC, self.config.offsets_topic_num_partitions, rf, &cfg).await {
                Ok(_) | Err(ResponseError::TopicAlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        if self.wait_metadata(10_000, ready).await {
            Ok(())
        } else {
            Err(ResponseError::CoordinatorNotAvailable)
        }
    }

    /// Append key/value records for `group` to its __consumer_offsets
    /// partition and wait until they are committed (HW past them).
    pub async fn append_group_records(
        &self,
        group: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), ResponseError> {
        if records.is_empty() {
            return Ok(());
        }
        self.ensure_offsets_topic().await?;
        let pidx = self.coordinator_partition(group);
        let part = self.partition(OFFSETS_TOPIC, pidx).ok_or(ResponseError::NotCoordinator)?;
        if !part.is_leader() {
            return Err(ResponseError::NotCoordinator);
        }
        if !self.groups.offsets.is_loaded(pidx) {
            return Err(ResponseError::CoordinatorLoadInProgress);
        }
        let now = crate::now_ms();
        let recs: Vec<Record> = records
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now,
                key: Some(k),
                value: v,
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            recs.iter(),
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )
        .map_err(|_| ResponseError::UnknownServerError)?;
        let ranges = batch::split(&buf).map_err(|_| ResponseError::UnknownServerError)?;
        let headers: Vec<BatchHeader> = ranges
            .iter()
            .map(|r| BatchHeader::parse(&buf[r.clone()]))
            .collect::<Result<_, _>>()
            .map_err(|_| ResponseError::UnknownServerError)?;
        let info = part.append_as_leader(&buf, &ranges, &headers, -1, 1)?;
        part.notify_data();
        part.wait_replicated(info.last_offset, info.leader_epoch, tokio::time::Instant::now() + Duration::from_secs(5))
            .await
    }

    pub async fn commit_offsets(
        &self,
        group: &str,
        entries: Vec<(String, i32, Committed)>,
    ) -> Result<(), ResponseError> {
        let records = entries
            .iter()
            .map(|(t, p, c)| (offsets::offset_key(group, t, *p), Some(offsets::offset_value(c))))
            .collect();
        self.append_group_records(group, records).await?;
        for (topic, partition, c) in entries {
            self.groups.offsets.apply(offsets::Record::Offset {
                group: group.to_string(),
                topic,
                partition,
                value: Some(c),
            });
        }
        Ok(())
    }

    /// Tombstone some of a group's offsets (OffsetDelete) or, with `None`,
    /// every offset and the group itself (DeleteGroups).
    pub async fn delete_group_data(&self, group: &str, parts: Option<Vec<(String, i32)>>) -> Result<(), ResponseError> {
        let whole = parts.is_none();
        let parts =
            parts.unwrap_or_else(|| self.groups.offsets.all(group).into_iter().map(|(t, p, _)| (t, p)).collect());
        let mut records: Vec<(Bytes, Option<Bytes>)> =
            parts.iter().map(|(t, p)| (offsets::offset_key(group, t, *p), None)).collect();
        if whole {
            records.push((offsets::group_key(group), None));
        }
        self.append_group_records(group, records).await?;
        for (topic, partition) in parts {
            self.groups.offsets.apply(offsets::Record::Offset {
                group: group.to_string(),
                topic,
                partition,
                value: None,
            });
        }
        if whole {
            self.groups.offsets.apply(offsets::Record::Group { group: group.to_string(), value: None });
        }
        Ok(())
    }

    /// Kafka's handleDeletedPartitions: the groups coordinated here lose
    /// (tombstone) their offsets of deleted topics, and a group left empty
    /// with no offsets goes (Dead, its record tombstoned).
    pub async fn drop_offsets_of_deleted_topics(&self, topics: &[String]) {
        for (group, _, _) in self.groups.offsets.groups() {
            let doomed: Vec<(String, i32)> = self
                .groups
                .offsets
                .all(&group)
                .into_iter()
                .filter(|(t, _, _)| topics.contains(t))
                .map(|(t, p, _)| (t, p))
                .collect();
            if doomed.is_empty() {
                continue;
            }
            let n = doomed.len();
            if let Err(e) = self.delete_group_data(&group, Some(doomed)).await {
                tracing::warn!(group, error = ?e, "cannot remove offsets of deleted topics");
                continue;
            }
            tracing::info!(group, offsets = n, "removed offsets associated with deleted partitions");
            if self.groups.offsets.all(&group).is_empty() && self.groups.prepare_delete(&group).is_ok() {
                match self.delete_group_data(&group, None).await {
                    Ok(()) => tracing::info!(group, "group has no offsets left and no members: dead"),
                    Err(e) => tracing::warn!(group, error = ?e, "cannot remove the group"),
                }
            }
        }
    }

    /// Replay one __consumer_offsets partition into the offset store.
    pub fn load_offsets_partition(&self, pidx: i32) {
        let Some(part) = self.partition(OFFSETS_TOPIC, pidx) else { return };
        let hw = part.high_watermark();
        let mut offset = part.log_start_offset();
        let (mut records, mut bad) = (0usize, 0usize);
        while offset < hw {
            let chunk = match part.read(offset, 1 << 20, false) {
                Ok(r) if !r.bytes.is_empty() => r.bytes,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(partition = pidx, offset, error = %e, "cannot read {OFFSETS_TOPIC}");
                    break;
                }
            };
            let Ok(ranges) = batch::split(&chunk) else { break };
            let mut next = offset;
            for r in ranges {
                let Ok(h) = BatchHeader::parse(&chunk[r.clone()]) else { break };
                next = h.last_offset() + 1;
                if h.is_control() {
                    continue;
                }
                let mut b = Bytes::copy_from_slice(&chunk[r]);
                let Ok(set) = RecordBatchDecoder::decode(&mut b) else {
                    bad += 1;
                    continue;
                };
                for rec in set.records {
                    let Some(k) = rec.key.as_ref() else { continue };
                    match offsets::decode(k, rec.value.as_ref()) {
                        Some(x) => {
                            self.groups.offsets.apply(x);
                            records += 1;
                        }
                        None => bad += 1,
                    }
                }
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
        self.groups.offsets.mark_loaded(pidx, true);
        tracing::info!(partition = pidx, records, skipped = bad, "loaded {OFFSETS_TOPIC} partition");
    }
}

//! The leader's side of replication: follower fetch positions, the
//! caught-up rule, and when the ISR should grow or shrink (Kafka's
//! Partition.updateFollowerFetchState / maybeExpandIsr / maybeShrinkIsr).

use super::{IsrUpdate, Partition};

impl Partition {
    /// Record a follower fetch at `fetch_offset` (its LEO) and advance the
    /// HW. Returns the ISR change to write when the follower has caught up
    /// and is not yet in the ISR. The second value: the HW moved.
    pub fn record_follower_fetch(&self, replica: i32, fetch_offset: i64, now_ms: i64) -> (Option<IsrUpdate>, bool) {
        let leo = self.log_end_offset();
        let hw = self.high_watermark();
        let update = {
            let Ok(mut s) = self.state.lock() else { return (None, false) };
            if s.leader != self.broker_id || !s.replicas.contains(&replica) {
                return (None, false);
            }
            let epoch_start = s.epoch_start_offset;
            let f = s.followers.entry(replica).or_insert(super::FollowerState {
                leo: -1,
                last_fetch_leo: -1,
                last_fetch_ms: 0,
                last_caught_up_ms: 0,
            });
            // Kafka's rule: caught up now if it asked for our LEO; caught up
            // as of its previous fetch if it reached what our LEO was then.
            if fetch_offset >= leo {
                f.last_caught_up_ms = now_ms;
            } else if fetch_offset >= f.last_fetch_leo {
                f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
            }
            f.leo = fetch_offset;
            f.last_fetch_leo = leo;
            f.last_fetch_ms = now_ms;
            let in_sync = fetch_offset >= hw && fetch_offset >= epoch_start;
            if in_sync && !s.isr.contains(&replica) && !s.isr_write_pending {
                s.isr_write_pending = true;
                let mut new_isr = s.isr.clone();
                new_isr.push(replica);
                Some(IsrUpdate {
                    leader: s.leader,
                    leader_epoch: s.leader_epoch,
                    controller_epoch: s.controller_epoch,
                    zk_version: s.zk_version,
                    new_isr,
                })
            } else {
                None
            }
        };
        let moved = self.maybe_increment_hw();
        (update, moved)
    }

    /// ISR members (other than the leader) that have not caught up within
    /// `lag_ms`: the ISR change that drops them, if any.
    pub fn isr_shrink(&self, now_ms: i64, lag_ms: i64) -> Option<IsrUpdate> {
        let Ok(mut s) = self.state.lock() else { return None };
        if s.leader != self.broker_id || s.isr_write_pending {
            return None;
        }
        let out_of_sync: Vec<i32> = s
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.broker_id)
            .filter(|r| s.followers.get(r).map(|f| now_ms - f.last_caught_up_ms > lag_ms).unwrap_or(true))
            .collect();
        if out_of_sync.is_empty() {
            return None;
        }
        s.isr_write_pending = true;
        Some(IsrUpdate {
            leader: s.leader,
            leader_epoch: s.leader_epoch,
            controller_epoch: s.controller_epoch,
            zk_version: s.zk_version,
            new_isr: s.isr.iter().copied().filter(|r| !out_of_sync.contains(r)).collect(),
        })
    }

    /// The ISR write finished: `Some(version)` when ZooKeeper took it.
    /// Returns true when the HW moved (a shrink can release acks=all).
    pub fn finish_isr_write(&self, update: &IsrUpdate, new_zk_version: Option<i32>) -> bool {
        {
            let Ok(mut s) = self.state.lock() else { return false };
            s.isr_write_pending = false;
            if let Some(v) = new_zk_version {
                if s.leader_epoch == update.leader_epoch && s.zk_version == update.zk_version {
                    s.isr = update.new_isr.clone();
                    s.zk_version = v;
                }
            }
        }
        self.maybe_increment_hw()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use kafka_protocol::records::Compression;

    use crate::log::batch::{self, tests::sample_batch, BatchHeader};
    use crate::log::{Log, LogConfig};
    use crate::metadata::PartitionInfo;
    use crate::partition::Partition;

    fn state(leader: i32, epoch: i32, isr: &[i32], version: i32) -> PartitionInfo {
        PartitionInfo {
            replicas: vec![0, 1, 2],
            leader,
            leader_epoch: epoch,
            isr: isr.to_vec(),
            controller_epoch: 1,
            zk_version: version,
            adding: Vec::new(),
            removing: Vec::new(),
        }
    }

    fn partition(dir: &std::path::Path) -> Partition {
        let log = Log::open(dir, "t", 0, LogConfig::default(), None, None).expect("log");
        Partition::new("t", 0, uuid::Uuid::nil(), 0, Arc::new(Mutex::new(log)), 0)
    }

    fn append(p: &Partition, n: usize) {
        let b = sample_batch(n, Compression::None);
        let ranges = batch::split(&b).expect("split");
        let headers: Vec<BatchHeader> = ranges.iter().map(|r| BatchHeader::parse(&b[r.clone()]).expect("h")).collect();
        p.append_as_leader(&b, &ranges, &headers, -1, 1).expect("append");
    }

    #[test]
    fn hw_follows_the_slowest_in_sync_follower_and_the_isr_grows_and_shrinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = partition(dir.path());
        // Becoming leader counts the followers as caught up "now".
        let t0 = crate::now_ms();
        assert!(p.apply_state(&state(0, 1, &[0, 1], 0)), "became leader");
        append(&p, 5);
        // Follower 1 has not fetched: the HW stays.
        assert_eq!(p.high_watermark(), 0);
        let (update, moved) = p.record_follower_fetch(1, 3, t0);
        assert!(update.is_none() && moved);
        assert_eq!(p.high_watermark(), 3);
        // Replica 2 is out of the ISR; once it reaches the HW it may join.
        let (update, _) = p.record_follower_fetch(2, 1, t0);
        assert!(update.is_none(), "below the HW: not in sync yet");
        let (update, _) = p.record_follower_fetch(2, 5, t0);
        let u = update.expect("ISR expansion");
        assert_eq!((u.new_isr.clone(), u.zk_version, u.leader_epoch), (vec![0, 1, 2], 0, 1));
        // One ISR write at a time.
        assert!(p.record_follower_fetch(2, 5, t0 + 1).0.is_none());
        assert!(!p.finish_isr_write(&u, Some(1)));
        assert_eq!(p.isr(), vec![0, 1, 2]);
        // Follower 1 stops at 3; 2 keeps up. After the lag time, 1 goes.
        p.record_follower_fetch(2, 5, t0 + 20_000);
        assert!(p.isr_shrink(t0 + 20_000, 30_000).is_none(), "within the lag time");
        let u = p.isr_shrink(t0 + 40_000, 30_000).expect("shrink");
        assert_eq!((u.new_isr.clone(), u.zk_version), (vec![0, 2], 1));
        // Without 1 the HW catches up with 2.
        assert!(p.finish_isr_write(&u, Some(2)));
        assert_eq!(p.high_watermark(), 5);
        // A lost write (another state won) changes nothing.
        let u = p.isr_shrink(t0 + 100_000, 30_000).expect("2 lagging now");
        p.finish_isr_write(&u, None);
        assert_eq!(p.isr(), vec![0, 2]);
    }

    #[test]
    fn stale_states_are_ignored_and_offsets_wait_for_the_new_leaders_hw() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = partition(dir.path());
        p.apply_state(&state(1, 3, &[0, 1], 5));
        assert!(!p.is_leader() && p.is_follower());
        // An older state (lower epoch, or same epoch and lower zkVersion)
        // does not undo a newer one.
        assert!(!p.apply_state(&state(0, 2, &[0], 9)));
        assert!(!p.apply_state(&state(0, 3, &[0], 4)));
        assert_eq!(p.leader_id(), 1);
        // As follower it copied records but its HW lags the leader's.
        p.log
            .lock()
            .expect("log")
            .append_as_follower(&{
                let mut b = sample_batch(4, Compression::None);
                batch::set_partition_leader_epoch(&mut b, 3);
                b
            })
            .expect("follower append");
        p.update_follower_hw(2);
        // It becomes leader with follower 2 in the ISR: until 2 has fetched,
        // its HW (2) is behind its epoch's start (4).
        assert!(p.apply_state(&state(0, 4, &[0, 2], 6)));
        assert!(p.hw_behind_epoch_start());
        p.record_follower_fetch(2, 4, 1);
        assert!(!p.hw_behind_epoch_start());
        assert_eq!(p.high_watermark(), 4);
    }
}

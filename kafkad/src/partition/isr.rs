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

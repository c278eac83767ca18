//! Kafka's replica placement (AdminUtils.assignReplicasToBrokersRackUnaware),
//! the one copy for kafkad's CreateTopics/CreatePartitions and the tools:
//! partition p's first replica is broker (p + start) mod n; the others
//! follow it at a shift that grows every n partitions, so leaders and
//! followers spread evenly.

/// Replicas for partitions `first_partition..first_partition + partitions`
/// over `brokers` (sorted ids). `start` and `shift` are Kafka's startIndex
/// and nextReplicaShift (random there, unless fixed). `None` if
/// `replication_factor` exceeds the brokers or is below 1.
pub fn assign(
    brokers: &[i32],
    partitions: usize,
    replication_factor: usize,
    start: usize,
    shift: usize,
    first_partition: usize,
) -> Option<Vec<Vec<i32>>> {
    let n = brokers.len();
    if replication_factor == 0 || replication_factor > n {
        return None;
    }
    let start = start % n;
    let mut shift = shift % n;
    let mut out = Vec::with_capacity(partitions);
    for p in first_partition..first_partition + partitions {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![brokers[first]];
        // replicaIndex: 1 + (shift + j) mod (n - 1) places after the first.
        for j in 0..replication_factor - 1 {
            replicas.push(brokers[(first + 1 + (shift + j) % (n - 1)) % n]);
        }
        out.push(replicas);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::assign;

    /// AdminUtilsTest.testReplicaAssignment's expectation (5 brokers, 10
    /// partitions, RF 3, start 0, shift 0).
    #[test]
    fn kafkas_own_example() {
        let got = assign(&[0, 1, 2, 3, 4], 10, 3, 0, 0, 0).expect("assign");
        let want: Vec<Vec<i32>> = vec![
            vec![0, 1, 2],
            vec![1, 2, 3],
            vec![2, 3, 4],
            vec![3, 4, 0],
            vec![4, 0, 1],
            vec![0, 2, 3],
            vec![1, 3, 4],
            vec![2, 4, 0],
            vec![3, 0, 1],
            vec![4, 1, 2],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn refuses_more_replicas_than_brokers_and_continues_from_a_partition() {
        assert_eq!(assign(&[1, 2], 1, 3, 0, 0, 0), None);
        assert_eq!(assign(&[1, 2], 1, 0, 0, 0, 0), None);
        assert_eq!(assign(&[7], 3, 1, 0, 0, 0), Some(vec![vec![7], vec![7], vec![7]]));
        // New partitions continue the first replicas' round-robin (the
        // shift counts only partitions placed in this call, as Kafka's).
        let more = assign(&[0, 1, 2, 3, 4], 4, 3, 2, 1, 6).expect("assign");
        assert_eq!(more.iter().map(|r| r[0]).collect::<Vec<_>>(), vec![3, 4, 0, 1]);
        assert_eq!(more[0], vec![3, 0, 1]);
    }
}

use super::*;

fn tp(t: &str, p: i32) -> TopicPartition {
    (t.to_string(), p)
}

fn params(offset: i64) -> PartitionParams {
    PartitionParams {
        fetch_offset: offset,
        max_bytes: 1 << 20,
        current_leader_epoch: -1,
        log_start_offset: -1,
        last_fetched_epoch: -1,
    }
}

fn quiet(hw: i64) -> PartitionOutcome {
    PartitionOutcome {
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: 0,
        has_records: false,
        error: false,
    }
}

fn with_records(hw: i64) -> PartitionOutcome {
    PartitionOutcome { has_records: true, ..quiet(hw) }
}

/// Outcomes for a plan from a per-partition function.
fn outcomes(plan: &Plan, f: impl Fn(&TopicPartition) -> PartitionOutcome) -> Vec<(TopicPartition, PartitionOutcome)> {
    plan.partitions.iter().map(|(t, _)| (t.clone(), f(t))).collect()
}

/// A session over a-0, a-1, b-0 at HW 10, created at `now`.
fn create(c: &mut FetchSessionCache, now: i64) -> i32 {
    let fetch = vec![(tp("a", 0), params(0)), (tp("a", 1), params(0)), (tp("b", 0), params(0))];
    let plan = c.new_context(now, 0, INITIAL_EPOCH, fetch, &[], false);
    assert_eq!(plan.context, Context::Full { privileged: false });
    let ans = c.finish(now, &plan, &outcomes(&plan, |_| with_records(10)));
    assert_eq!(ans.include, vec![true; 3], "a full fetch answers every partition");
    assert_ne!(ans.session_id, INVALID_SESSION_ID);
    assert!(ans.session_id > 0);
    ans.session_id
}

#[test]
fn full_fetch_creates_a_session_and_incremental_answers_only_changes() {
    let mut c = FetchSessionCache::new(10, EVICTION_MS);
    let id = create(&mut c, 0);
    assert_eq!(c.stats(), Stats { sessions: 1, partitions: 3, evictions: 0, incremental_fetches: 0 });

    // Epoch 1: the client moves a-0 on; nothing changed anywhere.
    let plan = c.new_context(1, id, 1, vec![(tp("a", 0), params(10))], &[], false);
    assert_eq!(plan.context, Context::Incremental { id, epoch: 2 });
    assert_eq!(plan.partitions.len(), 3, "every session partition is read");
    assert_eq!(plan.partitions[0], (tp("a", 0), params(10)), "updated fetch offset");
    assert_eq!(plan.partitions[2], (tp("b", 0), params(0)), "cached fetch offset");
    let ans = c.finish(1, &plan, &outcomes(&plan, |_| quiet(10)));
    assert_eq!(ans, Answer { error: None, session_id: id, include: vec![false; 3] });

    // Epoch 2: records on b-0, a new HW on a-1, a new log start on a-0.
    let plan = c.new_context(2, id, 2, vec![], &[], false);
    let ans = c.finish(
        2,
        &plan,
        &outcomes(&plan, |t| match t.1 + if t.0 == "b" { 10 } else { 0 } {
            0 => PartitionOutcome { log_start_offset: 5, ..quiet(10) },
            1 => quiet(12),
            _ => with_records(11),
        }),
    );
    assert_eq!(ans.include, vec![true, true, true]);
    // Answered partitions rotate to the back, in answer order.
    let plan = c.new_context(3, id, 3, vec![], &[], false);
    let order: Vec<TopicPartition> = plan.partitions.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(order, vec![tp("a", 0), tp("a", 1), tp("b", 0)]);
    // Same values again: nothing to say; an LSO change alone is news.
    let ans = c.finish(
        3,
        &plan,
        &outcomes(&plan, |t| match (t.0.as_str(), t.1) {
            ("a", 0) => PartitionOutcome { log_start_offset: 5, ..quiet(10) },
            ("a", 1) => PartitionOutcome { last_stable_offset: 11, ..quiet(12) },
            _ => quiet(11),
        }),
    );
    assert_eq!(ans.include, vec![false, true, false]);
    assert_eq!(c.stats().incremental_fetches, 3);
}

#[test]
fn errors_are_always_answered_and_again_once_cleared() {
    let mut c = FetchSessionCache::new(10, EVICTION_MS);
    let id = create(&mut c, 0);
    let err =
        PartitionOutcome { high_watermark: -1, last_stable_offset: -1, log_start_offset: -1, ..Default::default() };
    let err = PartitionOutcome { error: true, ..err };
    let answered = |plan: &Plan, ans: &Answer| -> Vec<TopicPartition> {
        plan.partitions.iter().zip(&ans.include).filter(|(_, y)| **y).map(|((t, _), _)| t.clone()).collect()
    };
    for epoch in 1..=2 {
        let plan = c.new_context(epoch as i64, id, epoch, vec![], &[], false);
        let ans = c.finish(0, &plan, &outcomes(&plan, |t| if t.1 == 1 { err.clone() } else { quiet(10) }));
        assert_eq!(answered(&plan, &ans), vec![tp("a", 1)], "epoch {epoch}");
    }
    // The error cleared with the HW as before the error: still answered.
    let plan = c.new_context(3, id, 3, vec![], &[], false);
    let ans = c.finish(3, &plan, &outcomes(&plan, |_| quiet(10)));
    assert_eq!(answered(&plan, &ans), vec![tp("a", 1)]);
    let plan = c.new_context(4, id, 4, vec![], &[], false);
    assert_eq!(c.finish(4, &plan, &outcomes(&plan, |_| quiet(10))).include, vec![false; 3]);
}

#[test]
fn forgotten_partitions_leave_the_session_and_an_empty_session_closes() {
    let mut c = FetchSessionCache::new(10, EVICTION_MS);
    let id = create(&mut c, 0);
    let plan = c.new_context(1, id, 1, vec![(tp("c", 0), params(0))], &[tp("a", 1), tp("zz", 9)], false);
    let order: Vec<TopicPartition> = plan.partitions.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(order, vec![tp("a", 0), tp("b", 0), tp("c", 0)]);
    // The added partition is new to the session: answered though quiet.
    let ans = c.finish(1, &plan, &outcomes(&plan, |_| quiet(10)));
    assert_eq!(ans.include, vec![false, false, true]);
    assert_eq!(c.stats().partitions, 3);

    let all = [tp("a", 0), tp("b", 0), tp("c", 0)];
    let plan = c.new_context(2, id, 2, vec![], &all, false);
    assert_eq!(plan.context, Context::Sessionless);
    assert!(plan.partitions.is_empty());
    assert_eq!(c.stats().sessions, 0);
    let plan = c.new_context(3, id, 3, vec![], &[], false);
    assert_eq!(plan.context, Context::Error(SessionError::IdNotFound));
}

#[test]
fn session_errors_and_closing() {
    let mut c = FetchSessionCache::new(10, EVICTION_MS);
    let id = create(&mut c, 0);
    for bad in [2, 7, -5] {
        let plan = c.new_context(1, id, bad, vec![], &[], false);
        assert_eq!(plan.context, Context::Error(SessionError::InvalidEpoch), "epoch {bad}");
        let ans = c.finish(1, &plan, &[]);
        assert_eq!(ans.error.map(SessionError::code), Some(71));
    }
    let plan = c.new_context(1, id.wrapping_add(1) & i32::MAX, 1, vec![], &[], false);
    assert_eq!(plan.context, Context::Error(SessionError::IdNotFound));
    assert_eq!(c.finish(1, &plan, &[]).error.map(SessionError::code), Some(70));
    // The bad requests did not move the session on.
    let plan = c.new_context(1, id, 1, vec![], &[], false);
    assert_eq!(plan.context, Context::Incremental { id, epoch: 2 });
    // A duplicate answered after the session moved on gets 71.
    let dup = plan.clone();
    let next = c.new_context(2, id, 2, vec![], &[], false);
    assert_eq!(c.finish(2, &dup, &outcomes(&dup, |_| quiet(10))).error, Some(SessionError::InvalidEpoch));
    assert_eq!(c.finish(2, &next, &outcomes(&next, |_| quiet(10))).error, None);

    // FINAL epoch with the id: closed, sessionless answer with id 0.
    let fetch = vec![(tp("a", 0), params(10))];
    let plan = c.new_context(3, id, FINAL_EPOCH, fetch.clone(), &[], false);
    assert_eq!(plan.context, Context::Sessionless);
    assert_eq!(plan.partitions, fetch);
    let ans = c.finish(3, &plan, &outcomes(&plan, |_| quiet(10)));
    assert_eq!((ans.session_id, ans.include), (INVALID_SESSION_ID, vec![true]));
    assert_eq!(c.stats().sessions, 0);
    assert_eq!(c.new_context(4, id, 3, vec![], &[], false).context, Context::Error(SessionError::IdNotFound));

    // INITIAL epoch with an id: the old session goes, a new one comes.
    let old = create(&mut c, 5);
    let plan = c.new_context(6, old, INITIAL_EPOCH, fetch, &[], false);
    let new = c.finish(6, &plan, &outcomes(&plan, |_| quiet(10))).session_id;
    assert!(new > 0 && new != old);
    assert_eq!(c.stats().sessions, 1);
}

#[test]
fn zero_slots_disable_sessions() {
    let mut c = FetchSessionCache::new(0, EVICTION_MS);
    let plan = c.new_context(0, 0, INITIAL_EPOCH, vec![(tp("a", 0), params(0))], &[], false);
    let ans = c.finish(0, &plan, &outcomes(&plan, |_| quiet(1)));
    assert_eq!((ans.session_id, ans.include), (INVALID_SESSION_ID, vec![true]));
    assert_eq!(c.stats().sessions, 0);
}

fn session_of(c: &mut FetchSessionCache, now: i64, parts: i32, privileged: bool) -> i32 {
    let fetch = (0..parts).map(|p| (tp("t", p), params(0))).collect();
    let plan = c.new_context(now, 0, INITIAL_EPOCH, fetch, &[], privileged);
    c.finish(now, &plan, &outcomes(&plan, |_| quiet(1))).session_id
}

#[test]
fn eviction_follows_kafkas_order() {
    let mut c = FetchSessionCache::new(2, EVICTION_MS);
    let small = session_of(&mut c, 0, 1, false);
    let big = session_of(&mut c, 1_000, 5, false);
    assert!(small > 0 && big > 0);
    // Full, nothing stale or old enough: no session for a newcomer.
    assert_eq!(session_of(&mut c, 2_000, 9, false), INVALID_SESSION_ID);
    // A follower may displace a young consumer session: the least valuable.
    let follower = session_of(&mut c, 3_000, 1, true);
    assert!(follower > 0);
    assert_eq!(c.new_context(3_000, small, 1, vec![], &[], false).context, Context::Error(SessionError::IdNotFound));
    assert_eq!(c.stats().evictions, 1);
    // Keep both in use; once `big` is older than the eviction time a
    // larger consumer session may replace it, a smaller one may not.
    let mut epochs = (1, 1);
    for now in [60_000, 121_500] {
        assert!(matches!(c.new_context(now, big, epochs.0, vec![], &[], false).context, Context::Incremental { .. }));
        assert!(matches!(
            c.new_context(now, follower, epochs.1, vec![], &[], true).context,
            Context::Incremental { .. }
        ));
        epochs = (epochs.0 + 1, epochs.1 + 1);
    }
    assert_eq!(session_of(&mut c, 122_000, 4, false), INVALID_SESSION_ID);
    assert!(session_of(&mut c, 122_000, 6, false) > 0);
    assert_eq!(
        c.new_context(122_000, big, epochs.0, vec![], &[], false).context,
        Context::Error(SessionError::IdNotFound)
    );
    // Unused for longer than the eviction time: stale, evicted first.
    assert!(session_of(&mut c, 400_000, 1, false) > 0);
    assert_eq!(c.stats(), Stats { sessions: 2, partitions: 7, evictions: 3, incremental_fetches: 4 });
}

#[test]
fn epochs_wrap_as_kafkas() {
    assert_eq!(next_epoch(0), 1);
    assert_eq!(next_epoch(41), 42);
    assert_eq!(next_epoch(i32::MAX), 1);
    assert_eq!(next_epoch(-1), FINAL_EPOCH);
}

#[test]
fn glue_rebuilds_requests_and_filters_responses() {
    use kafka_protocol::messages::fetch_request::ForgottenTopic;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    let name = |s: &str| TopicName(kafka_protocol::protocol::StrBytes::from_string(s.to_string()));
    let sessions = FetchSessions::new(5);
    let mut req = FetchRequest::default();
    req.session_epoch = INITIAL_EPOCH;
    req.max_wait_ms = 500;
    req.topics = to_topics(&[(tp("a", 0), params(0)), (tp("b", 0), params(0))]);
    let respond = |req: &FetchRequest, hw: i64| {
        let mut resp = FetchResponse::default();
        for t in &req.topics {
            let mut tr = FetchableTopicResponse::default();
            tr.topic = t.topic.clone();
            for p in &t.partitions {
                let mut pd = PartitionData::default();
                pd.partition_index = p.partition;
                pd.high_watermark = hw;
                pd.last_stable_offset = hw;
                pd.records = Some(Bytes::new());
                tr.partitions.push(pd);
            }
            resp.responses.push(tr);
        }
        resp
    };
    let (pending, read) = sessions.begin(12, req.clone(), false);
    assert_eq!(read.topics, req.topics);
    let resp = sessions.finish(pending, respond(&read, 3));
    let id = resp.session_id;
    assert!(id > 0);
    assert_eq!(resp.responses.len(), 2);

    // Incremental, forgetting b-0: the read covers a-0 from the cache.
    let mut inc = FetchRequest::default();
    inc.session_id = id;
    inc.session_epoch = 1;
    let mut forget = ForgottenTopic::default();
    forget.topic = name("b");
    forget.partitions = vec![0];
    inc.forgotten_topics_data = vec![forget];
    let (pending, read) = sessions.begin(12, inc.clone(), false);
    assert_eq!(read.topics, to_topics(&[(tp("a", 0), params(0))]));
    let resp = sessions.finish(pending, respond(&read, 3));
    assert_eq!((resp.session_id, resp.error_code, resp.responses.len()), (id, 0, 0));

    // A repeated epoch: error 71, nothing read, no waiting.
    let (pending, read) = sessions.begin(12, inc, false);
    assert!(read.topics.is_empty() && read.max_wait_ms == 0);
    let resp = sessions.finish(pending, respond(&read, 3));
    assert_eq!((resp.error_code, resp.session_id, resp.responses.len()), (71, 0, 0));

    // Below v7 nothing about sessions is touched.
    let (pending, read) = sessions.begin(6, req.clone(), false);
    let resp = sessions.finish(pending, respond(&read, 3));
    assert_eq!((resp.session_id, resp.responses.len()), (0, 2));
    assert_eq!(sessions.stats().sessions, 1);
}

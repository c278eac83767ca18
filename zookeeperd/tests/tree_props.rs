//! The data tree is a deterministic state machine: the same txns give the
//! same tree (byte-identical snapshots), snapshots round-trip, and
//! replaying a log over a snapshot gives the tree that wrote them.

use proptest::prelude::*;
use zookeeperd::jute::records::Acl;
use zookeeperd::tree::{snapshot, DataTree};
use zookeeperd::txn::{Txn, TxnEntry};

/// Random operations over a small name space, so creates, deletes and
/// sets collide often (and many fail, which must also be deterministic).
fn ops() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    proptest::collection::vec((0u8..6, 0u8..4, 0u8..4), 1..80)
}

fn to_txn(kind: u8, a: u8, b: u8) -> Txn {
    let path = if b == 0 { format!("/n{a}") } else { format!("/n{a}/c{b}") };
    match kind {
        0 | 1 => Txn::Create {
            path,
            data: Some(vec![a, b]),
            acl: Acl::open_unsafe(),
            ephemeral_owner: if kind == 1 { 1 + a as i64 % 2 } else { 0 },
            parent_cversion: b as i32,
        },
        2 => Txn::Delete { path },
        3 => Txn::SetData { path, data: Some(vec![b; a as usize]), version: a as i32 },
        4 => Txn::CloseSession { paths: None },
        _ => Txn::Multi(vec![
            Txn::SetData { path: path.clone(), data: None, version: 1 },
            Txn::Check { path, version: 1 },
        ]),
    }
}

fn entries(ops: &[(u8, u8, u8)]) -> Vec<TxnEntry> {
    ops.iter()
        .enumerate()
        .map(|(i, (k, a, b))| TxnEntry {
            zxid: i as i64 + 1,
            time: 1_000 + i as i64,
            session_id: 1 + *a as i64 % 2,
            cxid: i as i32,
            txn: to_txn(*k, *a, *b),
        })
        .collect()
}

fn run(tree: &mut DataTree, es: &[TxnEntry]) -> Vec<String> {
    let mut results = Vec::new();
    for e in es {
        let mut triggers = Vec::new();
        let r = tree.apply(e, &mut triggers);
        let t: Vec<(String, i32)> = triggers.into_iter().map(|(p, ev, _)| (p, ev)).collect();
        results.push(format!("{r:?} {t:?}"));
    }
    results
}

proptest! {
    #[test]
    fn same_txns_same_tree(ops in ops()) {
        let es = entries(&ops);
        let (mut a, mut b) = (DataTree::new(), DataTree::new());
        let ra = run(&mut a, &es);
        let rb = run(&mut b, &es);
        prop_assert_eq!(ra, rb);
        prop_assert_eq!(snapshot::encode(&a), snapshot::encode(&b));
    }

    #[test]
    fn snapshot_then_replay_equals_straight_run(ops in ops(), cut in 0usize..80) {
        let es = entries(&ops);
        let cut = cut.min(es.len());
        let mut straight = DataTree::new();
        run(&mut straight, &es);
        let mut first = DataTree::new();
        run(&mut first, &es[..cut]);
        let mut restored = snapshot::decode(&snapshot::encode(&first), first.last_zxid()).expect("snapshot decodes");
        // The body: the digest trailer names the last txn applied, and a
        // tree fresh from a snapshot has applied none (as Apache's).
        prop_assert_eq!(snapshot::encode_stream(&restored), snapshot::encode_stream(&first));
        prop_assert_eq!(restored.digest(), first.digest());
        run(&mut restored, &es[cut..]);
        prop_assert_eq!(snapshot::encode_stream(&restored), snapshot::encode_stream(&straight));
        prop_assert_eq!(restored.digest(), straight.digest());
        prop_assert_eq!(restored.node_count(), straight.node_count());
        prop_assert_eq!(restored.approximate_data_size(), straight.approximate_data_size());
    }
}

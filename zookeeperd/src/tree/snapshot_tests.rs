//! A fuzzy snapshot taken while txns keep landing, then the log replayed
//! over it, gives back the tree the txns left.

use super::snapshot::{decode, FuzzySnapshot};
use super::{parent_of, DataTree};
use crate::jute::records::{perms, Acl, Id};
use crate::txn::{Txn, TxnEntry};
use proptest::prelude::*;

/// One random change, chosen against the tree as it is.
#[derive(Debug, Clone)]
enum Op {
    Create {
        under: usize,
        ephemeral: bool,
        acl: bool,
    },
    Delete {
        pick: usize,
    },
    Set {
        pick: usize,
        len: usize,
    },
    SetAcl {
        pick: usize,
    },
    OpenSession,
    CloseSession {
        pick: usize,
    },
    Multi {
        under: usize,
        pick: usize,
    },
    /// Walk this many nodes of the snapshot.
    Step(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<usize>(), any::<bool>(), any::<bool>()).prop_map(|(under, ephemeral, acl)| Op::Create { under, ephemeral, acl }),
        2 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        2 => (any::<usize>(), 0..40usize).prop_map(|(pick, len)| Op::Set { pick, len }),
        1 => any::<usize>().prop_map(|pick| Op::SetAcl { pick }),
        1 => Just(Op::OpenSession),
        1 => any::<usize>().prop_map(|pick| Op::CloseSession { pick }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(under, pick)| Op::Multi { under, pick }),
        3 => (1..6usize).prop_map(Op::Step),
    ]
}

struct World {
    tree: DataTree,
    log: Vec<TxnEntry>,
    zxid: i64,
    names: u32,
}

impl World {
    fn user_paths(&self) -> Vec<String> {
        self.tree.sorted_paths().into_iter().filter(|p| !p.starts_with("/zookeeper")).cloned().collect()
    }

    fn create_txn(&mut self, under: usize, owner: i64) -> Option<Txn> {
        let parents: Vec<String> = self
            .user_paths()
            .into_iter()
            .filter(|p| self.tree.get(p).is_some_and(|n| n.stat.ephemeral_owner == 0))
            .collect();
        let parent = parents.get(under % parents.len().max(1))?.clone();
        self.names += 1;
        let path = if parent == "/" { format!("/n{}", self.names) } else { format!("{parent}/n{}", self.names) };
        let cversion = self.tree.get(&parent)?.stat.cversion + 1;
        Some(Txn::Create {
            path: path.clone(),
            data: Some(path.into_bytes()),
            acl: Acl::open_unsafe(),
            ephemeral_owner: owner,
            parent_cversion: cversion,
        })
    }

    fn leaf(&self, pick: usize) -> Option<String> {
        let leaves: Vec<String> = self
            .user_paths()
            .into_iter()
            .filter(|p| p != "/" && self.tree.get(p).is_some_and(|n| n.children.is_empty()))
            .collect();
        leaves.get(pick % leaves.len().max(1)).cloned()
    }

    fn txn(&mut self, op: &Op) -> Option<(i64, Txn)> {
        let sessions: Vec<i64> = self.tree.sessions().keys().copied().collect();
        match op {
            Op::Create { under, ephemeral, acl } => {
                let owner = if *ephemeral { *sessions.first()? } else { 0 };
                let mut t = self.create_txn(*under, owner)?;
                if let (Txn::Create { acl: a, .. }, true) = (&mut t, *acl) {
                    *a = vec![Acl { perms: perms::ALL, id: Id::new("digest", "u:x") }];
                }
                Some((owner.max(1), t))
            }
            Op::Delete { pick } => Some((1, Txn::Delete { path: self.leaf(*pick)? })),
            Op::Set { pick, len } => {
                let paths = self.user_paths();
                let path = paths.get(pick % paths.len())?.clone();
                let version = self.tree.get(&path)?.stat.version + 1;
                Some((1, Txn::SetData { path, data: Some(vec![7; *len]), version }))
            }
            Op::SetAcl { pick } => {
                let paths = self.user_paths();
                let path = paths.get(pick % paths.len())?.clone();
                let version = self.tree.get(&path)?.stat.aversion + 1;
                Some((1, Txn::SetAcl { path, acl: Acl::read_unsafe(), version }))
            }
            Op::OpenSession => Some((1000 + self.zxid, Txn::CreateSession { timeout: 30000 })),
            Op::CloseSession { pick } => {
                // As the leader logs it (Core::commit_as): naming the ephemerals.
                let sid = *sessions.get(pick % sessions.len().max(1))?;
                let paths = self.tree.ephemerals_of(sid).map(|s| s.iter().cloned().collect()).unwrap_or_default();
                Some((sid, Txn::CloseSession { paths: Some(paths) }))
            }
            Op::Multi { under, pick } => {
                let del = self.leaf(*pick)?;
                let create = self.create_txn(*under, 0)?;
                // Create under the leaf about to go would fail the whole
                // multi at prep; keep them apart.
                if let Txn::Create { path, .. } = &create {
                    if parent_of(path) == del {
                        return None;
                    }
                }
                Some((1, Txn::Multi(vec![create, Txn::Delete { path: del }])))
            }
            Op::Step(_) => None,
        }
    }

    fn apply(&mut self, op: &Op) {
        let Some((session_id, txn)) = self.txn(op) else { return };
        self.zxid += 1;
        let e = TxnEntry { zxid: self.zxid, time: 5000 + self.zxid, session_id, cxid: 1, txn };
        self.tree.apply(&e, &mut Vec::new()).expect("a valid txn applies");
        self.log.push(e);
    }
}

fn same(a: &DataTree, b: &DataTree) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.sorted_paths(), b.sorted_paths());
    for p in a.sorted_paths() {
        let (x, y) = (a.get(p).expect("a"), b.get(p).expect("b"));
        prop_assert_eq!((&x.data, &x.acl, x.stat, &x.children), (&y.data, &y.acl, y.stat, &y.children), "{}", p);
    }
    prop_assert_eq!(a.sessions(), b.sessions());
    prop_assert_eq!(a.last_zxid(), b.last_zxid());
    prop_assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    // The digest kept up change by change is the one of the whole tree.
    prop_assert_eq!(a.digest(), b.digest());
    let mut fresh = decode(&super::snapshot::encode(a), a.last_zxid()).expect("decodes");
    fresh.recompute_digest();
    prop_assert_eq!(a.digest(), fresh.digest());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn fuzzy_snapshot_plus_replay_is_the_tree(before in proptest::collection::vec(op(), 0..60),
                                              during in proptest::collection::vec(op(), 0..120)) {
        let mut w = World { tree: DataTree::new(), log: Vec::new(), zxid: 0, names: 0 };
        w.apply(&Op::OpenSession);
        for o in &before {
            w.apply(o);
        }
        let mut snap = FuzzySnapshot::start(&w.tree);
        let start = snap.zxid();
        let mut done = false;
        for o in &during {
            match o {
                Op::Step(n) => done = done || snap.step(&w.tree, *n),
                o => w.apply(o),
            }
        }
        if !done {
            snap.step(&w.tree, usize::MAX);
        }
        let bytes = snap.finish(&w.tree).into_file();
        let recorded = crate::persist::apache::snapshot::Snapshot::decode(&bytes).expect("decodes").digest;
        let mut back = decode(&bytes, start).expect("the snapshot decodes");
        for e in w.log.iter().filter(|e| e.zxid > start) {
            let _ = back.apply(e, &mut Vec::new());
        }
        same(&w.tree, &back)?;
        // The snapshot's digest is the tree's once replay reaches its zxid.
        let recorded = recorded.expect("a digest");
        prop_assert_eq!(recorded.zxid, w.zxid);
        prop_assert_eq!(recorded.digest, back.digest());
    }
}

//! Property tests of the jute codec: encode -> decode is the identity for
//! every request, txn and record; decoding arbitrary bytes never panics.

use bytes::BytesMut;
use proptest::prelude::*;
use zookeeperd::jute::records::{Acl, ConnectRequest, Id, RequestHeader};
use zookeeperd::jute::request::{decode_request, op, CreateRequest, MultiOp, Request, SetWatchesRequest};
use zookeeperd::jute::Encode;
use zookeeperd::txn::{Txn, TxnEntry};

fn path() -> impl Strategy<Value = String> {
    "(/[a-z0-9._-]{1,8}){1,4}"
}

fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))
}

fn acl() -> impl Strategy<Value = Acl> {
    (0..32i32, "(world|digest|ip|auth)", "[a-z0-9:=/+.]{0,20}")
        .prop_map(|(perms, scheme, id)| Acl { perms, id: Id { scheme, id } })
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    proptest::collection::vec(acl(), 0..3)
}

fn create() -> impl Strategy<Value = (i32, CreateRequest)> {
    (
        prop_oneof![Just(op::CREATE), Just(op::CREATE2), Just(op::CREATE_CONTAINER), Just(op::CREATE_TTL)],
        path(),
        data(),
        acls(),
        0..7i32,
        any::<i64>(),
    )
        .prop_map(|(opcode, path, data, acl, flags, ttl)| {
            let ttl = (opcode == op::CREATE_TTL).then_some(ttl);
            (opcode, CreateRequest { path, data, acl, flags, ttl })
        })
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(path(), 0..3)
}

fn write_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(|(opcode, req)| MultiOp::Create { opcode, req }),
        (path(), any::<i32>()).prop_map(|(path, version)| MultiOp::Delete { path, version }),
        (path(), data(), any::<i32>()).prop_map(|(path, data, version)| MultiOp::SetData { path, data, version }),
        (path(), any::<i32>()).prop_map(|(path, version)| MultiOp::Check { path, version }),
    ]
}

fn read_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (path(), any::<bool>()).prop_map(|(path, watch)| MultiOp::GetChildren { path, watch }),
        (path(), any::<bool>()).prop_map(|(path, watch)| MultiOp::GetData { path, watch }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create().prop_map(|(opcode, req)| Request::Create { opcode, req }),
        (path(), any::<i32>()).prop_map(|(path, version)| Request::Delete { path, version }),
        (path(), any::<bool>()).prop_map(|(path, watch)| Request::Exists { path, watch }),
        (path(), any::<bool>()).prop_map(|(path, watch)| Request::GetData { path, watch }),
        (path(), data(), any::<i32>()).prop_map(|(path, data, version)| Request::SetData { path, data, version }),
        path().prop_map(|path| Request::GetAcl { path }),
        (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Request::SetAcl { path, acl, version }),
        (path(), any::<bool>(), any::<bool>())
            .prop_map(|(path, watch, with_stat)| { Request::GetChildren { path, watch, with_stat } }),
        path().prop_map(|path| Request::Sync { path }),
        Just(Request::Ping),
        proptest::collection::vec(write_op(), 0..4).prop_map(|ops| Request::Multi { read_only: false, ops }),
        proptest::collection::vec(read_op(), 0..4).prop_map(|ops| Request::Multi { read_only: true, ops }),
        (path(), 1..4i32, any::<bool>())
            .prop_map(|(path, watch_type, remove)| { Request::CheckWatches { path, watch_type, remove } }),
        (0..2i32, "[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(auth_type, scheme, auth)| Request::Auth { auth_type, scheme, auth }),
        (any::<i64>(), strings(), strings(), strings()).prop_map(|(relative_zxid, data, exist, child)| {
            Request::SetWatches(SetWatchesRequest {
                relative_zxid,
                data,
                exist,
                child,
                persistent: vec![],
                persistent_recursive: vec![],
            })
        }),
        (any::<i64>(), strings(), strings(), strings(), path(), strings()).prop_map(
            |(relative_zxid, data, exist, child, p, persistent_recursive)| {
                Request::SetWatches(SetWatchesRequest {
                    relative_zxid,
                    data,
                    exist,
                    child,
                    persistent: vec![p],
                    persistent_recursive,
                })
            }
        ),
        path().prop_map(|prefix| Request::GetEphemerals { prefix }),
        path().prop_map(|path| Request::GetAllChildrenNumber { path }),
        (path(), 0..2i32).prop_map(|(path, mode)| Request::AddWatch { path, mode }),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
        (opt_text(), opt_text(), opt_text(), any::<i64>()).prop_map(
            |(joining, leaving, new_members, cur_config_id)| Request::Reconfig {
                joining,
                leaving,
                new_members,
                cur_config_id
            }
        ),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z0-9.=:;,\n]{0,40}")
}

fn txn_leaf() -> impl Strategy<Value = Txn> {
    prop_oneof![
        any::<i32>().prop_map(|timeout| Txn::CreateSession { timeout }),
        Just(Txn::CloseSession { paths: None }),
        (path(), data(), acls(), any::<i64>(), any::<i32>()).prop_map(
            |(path, data, acl, ephemeral_owner, parent_cversion)| Txn::Create {
                path,
                data,
                acl,
                ephemeral_owner,
                parent_cversion
            }
        ),
        path().prop_map(|path| Txn::Delete { path }),
        (path(), data(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData { path, data, version }),
        (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl { path, acl, version }),
        (path(), any::<i32>()).prop_map(|(path, version)| Txn::Check { path, version }),
        any::<i32>().prop_map(Txn::Error),
    ]
}

/// Top-level only: a reconfig never sits inside a multi.
fn txn_top() -> impl Strategy<Value = Txn> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(|data| Txn::Reconfig { data })
}

fn txn() -> impl Strategy<Value = Txn> {
    prop_oneof![txn_leaf(), txn_top(), proptest::collection::vec(txn_leaf(), 0..4).prop_map(Txn::Multi)]
}

proptest! {
    #[test]
    fn request_roundtrip(xid in any::<i32>(), req in request()) {
        let mut b = BytesMut::new();
        RequestHeader { xid, opcode: req.opcode() }.encode(&mut b);
        req.encode(&mut b);
        let (h, body) = decode_request(&b).expect("header");
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(body.expect("body"), req);
    }

    #[test]
    fn connect_roundtrip(zxid in any::<i64>(), timeout in any::<i32>(), sid in any::<i64>(),
                         passwd in proptest::collection::vec(any::<u8>(), 0..16), ro in proptest::option::of(any::<bool>())) {
        let c = ConnectRequest { protocol_version: 0, last_zxid_seen: zxid, timeout, session_id: sid, passwd, read_only: ro };
        let mut b = BytesMut::new();
        c.encode(&mut b);
        prop_assert_eq!(ConnectRequest::decode(&b).expect("decode"), c);
    }

    #[test]
    fn txn_roundtrip(zxid in any::<i64>(), time in any::<i64>(), sid in any::<i64>(), cxid in any::<i32>(), txn in txn()) {
        let e = TxnEntry { zxid, time, session_id: sid, cxid, txn };
        let mut b = BytesMut::new();
        e.encode(&mut b);
        prop_assert_eq!(TxnEntry::decode(&b).expect("decode"), e);
    }

    /// Arbitrary bytes: an error or a value, never a panic or a huge
    /// allocation.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_request(&bytes);
        let _ = ConnectRequest::decode(&bytes);
        let _ = TxnEntry::decode(&bytes);
        let _ = zookeeperd::tree::snapshot::decode(&bytes, 0);
        let _ = zookeeperd::persist::legacy::snapshot::decode(&bytes);
    }
}

#[test]
fn hostile_lengths_are_refused_before_allocating() {
    // getChildren reply-style vector count of 2^31-1 inside a setWatches body.
    let mut b = BytesMut::new();
    RequestHeader { xid: 1, opcode: op::SET_WATCHES }.encode(&mut b);
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&i32::MAX.to_be_bytes());
    let (_, body) = decode_request(&b).unwrap();
    assert_eq!(body, Ok(Request::Malformed { opcode: op::SET_WATCHES }));
    // A buffer claiming more than the frame holds.
    let mut b = BytesMut::new();
    RequestHeader { xid: 1, opcode: op::SET_DATA }.encode(&mut b);
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(b"/");
    b.extend_from_slice(&0x7fff_fff0i32.to_be_bytes());
    assert_eq!(decode_request(&b).unwrap().1, Ok(Request::Malformed { opcode: op::SET_DATA }));
}

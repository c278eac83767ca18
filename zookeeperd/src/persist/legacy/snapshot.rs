//! zookeeperd's snapshot format before it took Apache's (kept only to
//! convert old dataDirs, and to write them in tests). Layout: magic, format version,
//! last zxid, nodes (parents first), sessions, then a CRC-32C of all that
//! precedes it. A snapshot whose CRC fails is ignored at recovery.

use crate::jute::records::Acl;
use crate::jute::{write_buffer, write_int, write_long, write_string, DecodeError, Reader};
use crate::tree::{DataTree, Node, StatPersisted};
use bytes::{BufMut, BytesMut};

const MAGIC: &[u8; 4] = b"ZKSN";
const FORMAT: i32 = 1;

pub fn encode(tree: &DataTree) -> BytesMut {
    let mut w = BytesMut::with_capacity(64 * 1024);
    w.put_slice(MAGIC);
    write_int(&mut w, FORMAT);
    write_long(&mut w, tree.last_zxid());
    let paths = tree.sorted_paths();
    write_int(&mut w, paths.len() as i32);
    for p in paths {
        let n = &tree.nodes()[p];
        write_string(&mut w, p);
        write_buffer(&mut w, n.data.as_deref());
        write_int(&mut w, n.acl.len() as i32);
        for a in n.acl.iter() {
            crate::jute::Encode::encode(a, &mut w);
        }
        let s = &n.stat;
        write_long(&mut w, s.czxid);
        write_long(&mut w, s.mzxid);
        write_long(&mut w, s.ctime);
        write_long(&mut w, s.mtime);
        write_int(&mut w, s.version);
        write_int(&mut w, s.cversion);
        write_int(&mut w, s.aversion);
        write_long(&mut w, s.ephemeral_owner);
        write_long(&mut w, s.pzxid);
    }
    write_int(&mut w, tree.sessions().len() as i32);
    for (id, timeout) in tree.sessions() {
        write_long(&mut w, *id);
        write_int(&mut w, *timeout);
    }
    let crc = crc32c::crc32c(&w);
    w.put_u32(crc);
    w
}

pub fn decode(buf: &[u8]) -> Result<DataTree, DecodeError> {
    if buf.len() < 8 || &buf[..4] != MAGIC {
        return Err(DecodeError::Malformed("not a snapshot"));
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != want {
        return Err(DecodeError::Malformed("snapshot CRC mismatch"));
    }
    let mut r = Reader::new(&body[4..]);
    if r.read_int()? != FORMAT {
        return Err(DecodeError::Malformed("unknown snapshot format"));
    }
    let mut tree = DataTree::new();
    tree.clear_for_load();
    tree.set_last_zxid(r.read_long()?);
    let count = r.read_int()?;
    if count < 0 {
        return Err(DecodeError::Malformed("negative node count"));
    }
    let mut pending: Vec<(String, Node)> = Vec::new();
    for _ in 0..count {
        let path = r.read_string()?;
        let data = r.read_buffer()?.map(|d| d.into_boxed_slice());
        let acl: Vec<Acl> = r.read_vec(12, Acl::decode)?.unwrap_or_default();
        let stat = StatPersisted::decode(&mut r)?;
        let acl = tree.intern_acl(acl);
        pending.push((path, Node { data, acl, stat, children: Default::default() }));
    }
    // Children sets are derived, not stored.
    let mut children: Vec<(String, Box<str>)> = Vec::new();
    for (p, _) in &pending {
        if p != "/" {
            children.push((crate::tree::parent_of(p).to_string(), crate::tree::name_of(p).into()));
        }
    }
    for (p, n) in pending {
        tree.load_node(p, n);
    }
    for (parent, name) in children {
        match tree.node_mut(&parent) {
            Some(n) => {
                n.children.insert(name);
            }
            None => return Err(DecodeError::Malformed("snapshot node without parent")),
        }
    }
    let sessions = r.read_int()?;
    for _ in 0..sessions.max(0) {
        let id = r.read_long()?;
        let timeout = r.read_int()?;
        tree.load_session(id, timeout);
    }
    tree.finish_load();
    Ok(tree)
}

//! The `ephemeralOwner` field also marks containers and TTL nodes, as
//! ZooKeeper's EphemeralType does: containers are `Long.MIN_VALUE`, TTL nodes
//! `0xFF` in the top byte and the TTL in the low 40 bits.

pub const CONTAINER: i64 = i64::MIN;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
const TTL_VALUE_MASK: i64 = 0x0000_00ff_ffff_ffff;
/// Largest TTL in milliseconds.
pub const MAX_TTL: i64 = TTL_VALUE_MASK;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

pub fn kind(owner: i64) -> NodeKind {
    if owner == 0 {
        NodeKind::Persistent
    } else if owner == CONTAINER {
        NodeKind::Container
    } else if owner & EXTENDED_MASK == EXTENDED_MASK {
        NodeKind::Ttl(owner & TTL_VALUE_MASK)
    } else {
        NodeKind::Ephemeral(owner)
    }
}

pub fn ttl_owner(ttl: i64) -> i64 {
    EXTENDED_MASK | (ttl & TTL_VALUE_MASK)
}

/// What clients see in Stat.ephemeralOwner: markers read as 0.
pub fn client_owner(owner: i64) -> i64 {
    match kind(owner) {
        NodeKind::Ephemeral(s) => s,
        _ => 0,
    }
}

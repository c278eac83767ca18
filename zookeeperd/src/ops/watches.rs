//! addWatch, removeWatches, checkWatches, setWatches and setWatches2.

use super::{Ctx, Outcome};
use crate::error::ZkError;
use crate::jute::records::event_type;
use crate::jute::request::SetWatchesRequest;
use crate::jute::response::Response;
use crate::watch::{Mode, Notification, Table};

/// WatcherType codes of removeWatches/checkWatches (3.8 has only these).
mod watcher_type {
    pub const CHILDREN: i32 = 1;
    pub const DATA: i32 = 2;
    pub const ANY: i32 = 3;
}

/// addWatch modes.
const ADD_WATCH_PERSISTENT: i32 = 0;
const ADD_WATCH_PERSISTENT_RECURSIVE: i32 = 1;

pub fn add_watch(ctx: &mut Ctx, path: &str, mode: i32) -> Outcome {
    let recursive = match mode {
        ADD_WATCH_PERSISTENT => false,
        ADD_WATCH_PERSISTENT_RECURSIVE => true,
        _ => return Outcome::Reply(Err(ZkError::MarshallingError)),
    };
    ctx.watches.add_persistent(path, ctx.conn, recursive);
    Outcome::Reply(Ok(Response::Int(0)))
}

/// Which watch tables a watcher type covers.
fn tables(watch_type: i32) -> Option<&'static [Table]> {
    use watcher_type::*;
    match watch_type {
        CHILDREN => Some(&[Table::Child]),
        DATA => Some(&[Table::Data]),
        ANY => Some(&[Table::Data, Table::Child]),
        _ => None,
    }
}

/// removeWatches drops this connection's watches (persistent ones too) at
/// exactly `path`; checkWatches only asks. The server sends no event: the
/// client makes its own *WatchRemoved events.
pub fn check_watches(ctx: &mut Ctx, path: &str, watch_type: i32, remove: bool) -> Outcome {
    let Some(tables) = tables(watch_type) else {
        return Outcome::Reply(Err(ZkError::MarshallingError));
    };
    let mut found = false;
    for table in tables {
        if remove {
            found |= ctx.watches.remove(*table, path, ctx.conn).is_some();
        } else {
            found |= ctx.watches.any_watcher(*table, path) || ctx.watches.has(*table, path, ctx.conn).is_some();
        }
    }
    Outcome::Reply(if found { Ok(Response::Empty) } else { Err(ZkError::NoWatcher) })
}

/// Re-register a reconnecting client's watches, firing at once those whose
/// node changed after `relative_zxid` (the last zxid the client saw).
pub fn set_watches(ctx: &mut Ctx, sw: SetWatchesRequest) -> Outcome {
    let rel = sw.relative_zxid;
    let fire = |events: &mut Vec<Notification>, path: &str, ev: i32| {
        events.push(Notification { conn: ctx.conn, event_type: ev, path: path.to_string() });
    };
    for p in &sw.data {
        match ctx.tree.get(p) {
            None => fire(ctx.events, p, event_type::NODE_DELETED),
            Some(n) if n.stat.mzxid > rel => fire(ctx.events, p, event_type::NODE_DATA_CHANGED),
            Some(_) => ctx.watches.add(Table::Data, p, ctx.conn, Mode::Standard),
        }
    }
    for p in &sw.exist {
        if ctx.tree.contains(p) {
            fire(ctx.events, p, event_type::NODE_CREATED);
        } else {
            ctx.watches.add(Table::Data, p, ctx.conn, Mode::Standard);
        }
    }
    for p in &sw.child {
        match ctx.tree.get(p) {
            None => fire(ctx.events, p, event_type::NODE_DELETED),
            Some(n) if n.stat.pzxid > rel => fire(ctx.events, p, event_type::NODE_CHILDREN_CHANGED),
            Some(_) => ctx.watches.add(Table::Child, p, ctx.conn, Mode::Standard),
        }
    }
    for p in &sw.persistent {
        ctx.watches.add_persistent(p, ctx.conn, false);
    }
    for p in &sw.persistent_recursive {
        ctx.watches.add_persistent(p, ctx.conn, true);
    }
    Outcome::Reply(Ok(Response::Empty))
}

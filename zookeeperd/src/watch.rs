//! Watches, keyed by connection as ZooKeeper keys them by ServerCnxn.
//! Standard watches fire once; persistent ones stay; persistent-recursive
//! ones also fire for every descendant (but never for NodeChildrenChanged,
//! since they live only in the data table).

use crate::jute::records::event_type;
use crate::tree::parent_of;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standard,
    Persistent,
    PersistentRecursive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Data,
    Child,
}

#[derive(Default)]
struct WatchTable {
    by_path: HashMap<String, BTreeMap<ConnId, Mode>>,
    recursive: usize,
}

impl WatchTable {
    fn add(&mut self, path: &str, conn: ConnId, mode: Mode) {
        let entry = self.by_path.entry(path.to_string()).or_default();
        // As in 3.8, the latest registration's mode wins, so a one-shot
        // watch on a persistently watched path turns it back into one-shot.
        let old = entry.get(&conn).copied();
        if old == Some(Mode::PersistentRecursive) {
            self.recursive -= 1;
        }
        if mode == Mode::PersistentRecursive {
            self.recursive += 1;
        }
        entry.insert(conn, mode);
    }

    fn remove(&mut self, path: &str, conn: ConnId) -> Option<Mode> {
        let set = self.by_path.get_mut(path)?;
        let m = set.remove(&conn)?;
        if m == Mode::PersistentRecursive {
            self.recursive -= 1;
        }
        if set.is_empty() {
            self.by_path.remove(path);
        }
        Some(m)
    }

    /// Fire watches for `path`; one-shot watches that fired are returned in
    /// `removed` so the per-connection index can forget them.
    fn trigger(&mut self, path: &str, out: &mut Vec<ConnId>, suppress: &HashSet<ConnId>, removed: &mut Vec<ConnId>) {
        let mut fired: BTreeSet<ConnId> = BTreeSet::new();
        if let Some(set) = self.by_path.get_mut(path) {
            let mut standard = Vec::new();
            for (c, m) in set.iter() {
                fired.insert(*c);
                if *m == Mode::Standard {
                    standard.push(*c);
                }
            }
            for c in standard {
                set.remove(&c);
                removed.push(c);
            }
            if set.is_empty() {
                self.by_path.remove(path);
            }
        }
        if self.recursive > 0 && path != "/" {
            let mut p = parent_of(path);
            loop {
                if let Some(set) = self.by_path.get(p) {
                    for (c, m) in set {
                        if *m == Mode::PersistentRecursive {
                            fired.insert(*c);
                        }
                    }
                }
                if p == "/" {
                    break;
                }
                p = parent_of(p);
            }
        }
        for c in fired {
            if !suppress.contains(&c) {
                out.push(c);
            }
        }
    }
}

/// Every watch on the server.
#[derive(Default)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
    by_conn: HashMap<ConnId, BTreeSet<(Table, String)>>,
}

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub conn: ConnId,
    pub event_type: i32,
    pub path: String,
}

impl WatchManager {
    pub fn add(&mut self, table: Table, path: &str, conn: ConnId, mode: Mode) {
        match table {
            Table::Data => self.data.add(path, conn, mode),
            Table::Child => self.child.add(path, conn, mode),
        }
        self.by_conn.entry(conn).or_default().insert((table, path.to_string()));
    }

    /// addWatch: persistent goes in both tables, recursive in data only.
    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        if recursive {
            self.add(Table::Data, path, conn, Mode::PersistentRecursive);
        } else {
            self.add(Table::Data, path, conn, Mode::Persistent);
            self.add(Table::Child, path, conn, Mode::Persistent);
        }
    }

    pub fn has(&self, table: Table, path: &str, conn: ConnId) -> Option<Mode> {
        let t = match table {
            Table::Data => &self.data,
            Table::Child => &self.child,
        };
        t.by_path.get(path).and_then(|s| s.get(&conn)).copied()
    }

    pub fn remove(&mut self, table: Table, path: &str, conn: ConnId) -> Option<Mode> {
        let m = match table {
            Table::Data => self.data.remove(path, conn),
            Table::Child => self.child.remove(path, conn),
        };
        if m.is_some() {
            if let Some(s) = self.by_conn.get_mut(&conn) {
                s.remove(&(table, path.to_string()));
            }
        }
        m
    }

    /// Drop every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        if let Some(set) = self.by_conn.remove(&conn) {
            for (table, path) in set {
                match table {
                    Table::Data => self.data.remove(&path, conn),
                    Table::Child => self.child.remove(&path, conn),
                };
            }
        }
    }

    /// Turn one tree change into notifications, as DataTree does:
    /// created/changed fire data watches; deleted fires data then child
    /// watches (a connection notified once); children-changed fires child
    /// watches.
    pub fn trigger(&mut self, path: &str, ev: i32, out: &mut Vec<Notification>) {
        let mut conns = Vec::new();
        let (mut gone_data, mut gone_child) = (Vec::new(), Vec::new());
        let none = HashSet::new();
        match ev {
            event_type::NODE_CREATED | event_type::NODE_DATA_CHANGED => {
                self.data.trigger(path, &mut conns, &none, &mut gone_data);
            }
            event_type::NODE_DELETED => {
                self.data.trigger(path, &mut conns, &none, &mut gone_data);
                let seen: HashSet<ConnId> = conns.iter().copied().collect();
                self.child.trigger(path, &mut conns, &seen, &mut gone_child);
            }
            event_type::NODE_CHILDREN_CHANGED => {
                self.child.trigger(path, &mut conns, &none, &mut gone_child);
            }
            _ => {}
        }
        for conn in conns {
            out.push(Notification { conn, event_type: ev, path: path.to_string() });
        }
        for (table, gone) in [(Table::Data, gone_data), (Table::Child, gone_child)] {
            for c in gone {
                if let Some(set) = self.by_conn.get_mut(&c) {
                    set.remove(&(table, path.to_string()));
                }
            }
        }
    }

    pub fn watch_count(&self) -> usize {
        self.data.by_path.values().map(|s| s.len()).sum::<usize>()
            + self.child.by_path.values().map(|s| s.len()).sum::<usize>()
    }

    pub fn path_count(&self) -> usize {
        let mut paths: HashSet<&String> = self.data.by_path.keys().collect();
        paths.extend(self.child.by_path.keys());
        paths.len()
    }

    pub fn conn_count(&self) -> usize {
        self.by_conn.values().filter(|s| !s.is_empty()).count()
    }

    /// conn -> data-watched paths (wchc; ZooKeeper dumps data watches only).
    pub fn by_connection(&self) -> BTreeMap<ConnId, BTreeSet<String>> {
        let mut out: BTreeMap<ConnId, BTreeSet<String>> = BTreeMap::new();
        for (p, s) in &self.data.by_path {
            for c in s.keys() {
                out.entry(*c).or_default().insert(p.clone());
            }
        }
        out
    }

    /// (connections, paths, watches) over data watches, for wchs.
    pub fn data_summary(&self) -> (usize, usize, usize) {
        let conns: HashSet<ConnId> = self.data.by_path.values().flat_map(|s| s.keys().copied()).collect();
        let watches = self.data.by_path.values().map(|s| s.len()).sum();
        (conns.len(), self.data.by_path.len(), watches)
    }

    /// checkWatches as 3.8 answers it: any connection watching exactly
    /// `path` counts.
    pub fn any_watcher(&self, table: Table, path: &str) -> bool {
        let t = match table {
            Table::Data => &self.data,
            Table::Child => &self.child,
        };
        t.by_path.get(path).is_some_and(|s| !s.is_empty())
    }

    /// path -> watching connections (for wchp).
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<ConnId>> {
        // Data watches only, as ZooKeeper's wchp.
        self.data.by_path.iter().map(|(p, s)| (p.clone(), s.keys().copied().collect())).collect()
    }
}

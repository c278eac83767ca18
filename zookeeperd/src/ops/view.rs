//! What write preparation reads: the tree itself for a single op, or the
//! tree overlaid with a multi's earlier ops (ZooKeeper's outstanding change
//! records), so one set of checks serves both.

use crate::jute::records::Acl;
use crate::tree::{DataTree, StatPersisted};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct NodeView {
    pub stat: StatPersisted,
    pub acl: Arc<[Acl]>,
    pub num_children: i32,
}

pub trait View {
    fn node(&self, path: &str) -> Option<NodeView>;
    /// Note the effect of a prepared op on `path` (None = deleted).
    fn record(&mut self, path: &str, node: Option<NodeView>);
}

fn from_tree(tree: &DataTree, path: &str) -> Option<NodeView> {
    tree.get(path).map(|n| NodeView { stat: n.stat, acl: n.acl.clone(), num_children: n.children.len() as i32 })
}

/// A single op sees the tree as it is.
pub struct Direct<'a>(pub &'a DataTree);

impl View for Direct<'_> {
    fn node(&self, path: &str) -> Option<NodeView> {
        from_tree(self.0, path)
    }
    fn record(&mut self, _: &str, _: Option<NodeView>) {}
}

/// A multi sees its own earlier ops.
pub struct Overlay<'a> {
    tree: &'a DataTree,
    changes: HashMap<String, Option<NodeView>>,
}

impl<'a> Overlay<'a> {
    pub fn new(tree: &'a DataTree) -> Self {
        Overlay { tree, changes: HashMap::new() }
    }
}

impl View for Overlay<'_> {
    fn node(&self, path: &str) -> Option<NodeView> {
        match self.changes.get(path) {
            Some(v) => v.clone(),
            None => from_tree(self.tree, path),
        }
    }
    fn record(&mut self, path: &str, node: Option<NodeView>) {
        self.changes.insert(path.to_string(), node);
    }
}

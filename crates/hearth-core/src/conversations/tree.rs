//! The shape of a message tree (who is whose parent, siblings in creation
//! order), computed in memory from the (id, parent) pairs the repository
//! returns. Used for sibling navigation, branch switching and export ordering.

use std::collections::HashMap;

use super::model::{Message, MessageId};

/// Parent and children of every message of one conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    parent: HashMap<MessageId, Option<MessageId>>,
    children: HashMap<Option<MessageId>, Vec<MessageId>>,
}

impl Shape {
    /// Build from (id, parent) pairs in creation order.
    pub fn new(pairs: Vec<(MessageId, Option<MessageId>)>) -> Shape {
        let mut shape = Shape::default();
        for (id, parent) in pairs {
            shape
                .children
                .entry(parent.clone())
                .or_default()
                .push(id.clone());
            shape.parent.insert(id, parent);
        }
        shape
    }

    /// Whether the message is in this tree.
    pub fn contains(&self, id: &MessageId) -> bool {
        self.parent.contains_key(id)
    }

    /// Children of a message (or the roots for `None`), oldest first.
    pub fn children(&self, id: Option<&MessageId>) -> &[MessageId] {
        self.children
            .get(&id.cloned())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The message and its siblings (same parent), oldest first.
    pub fn siblings(&self, id: &MessageId) -> &[MessageId] {
        match self.parent.get(id) {
            Some(parent) => self.children(parent.as_ref()),
            None => &[],
        }
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
}

/// The leaf reached from `id` by always taking the newest child.
pub fn newest_leaf_under(shape: &Shape, id: &MessageId) -> MessageId {
    let mut at = id.clone();
    // Bounded by the tree size, so a corrupt cycle cannot hang us.
    for _ in 0..=shape.len() {
        match shape.children(Some(&at)).last() {
            Some(child) => at = child.clone(),
            None => break,
        }
    }
    at
}

/// Messages ordered so that every parent comes before its children, siblings
/// oldest first (depth-first from the roots). Messages whose parent is missing
/// are treated as roots.
pub fn parents_first(messages: Vec<Message>) -> Vec<Message> {
    let ids: std::collections::HashSet<MessageId> = messages.iter().map(|m| m.id.clone()).collect();
    let mut by_parent: HashMap<Option<MessageId>, Vec<Message>> = HashMap::new();
    for m in messages {
        let parent = m.parent_id.clone().filter(|p| ids.contains(p));
        by_parent.entry(parent).or_default().push(m);
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut stack: Vec<Message> = by_parent.remove(&None).unwrap_or_default();
    stack.reverse();
    while let Some(m) = stack.pop() {
        if let Some(mut kids) = by_parent.remove(&Some(m.id.clone())) {
            kids.reverse();
            stack.extend(kids);
        }
        out.push(m);
    }
    out
}

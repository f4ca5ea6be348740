//! The wait queue in front of a model's parallel sequences: round-robin across
//! principals, FIFO within one. Owned by the scheduler thread; the bound on its
//! length is enforced by the submitting side (see `SchedulerHandle::submit`).

use std::collections::VecDeque;

use hearth_core::backend::Principal;

/// Per-principal FIFO queues served in turn.
#[derive(Debug)]
pub struct FairQueue<T> {
    turns: VecDeque<(Principal, VecDeque<T>)>,
    len: usize,
}

impl<T> Default for FairQueue<T> {
    fn default() -> Self {
        FairQueue {
            turns: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> FairQueue<T> {
    /// Append `item` to `principal`'s queue.
    pub fn push(&mut self, principal: &Principal, item: T) {
        self.len += 1;
        match self.turns.iter_mut().find(|(p, _)| p == principal) {
            Some((_, queue)) => queue.push_back(item),
            None => self
                .turns
                .push_back((principal.clone(), VecDeque::from([item]))),
        }
    }

    /// The oldest item of the principal whose turn it is; that principal then
    /// goes to the back of the line.
    pub fn pop(&mut self) -> Option<T> {
        let (principal, mut queue) = self.turns.pop_front()?;
        let item = queue.pop_front();
        if !queue.is_empty() {
            self.turns.push_back((principal, queue));
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Remove every item for which `keep` is false (e.g. cancelled while waiting).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        let before = self.len;
        for (_, queue) in &mut self.turns {
            queue.retain(&mut keep);
        }
        self.turns.retain(|(_, q)| !q.is_empty());
        self.len = self.turns.iter().map(|(_, q)| q.len()).sum();
        before - self.len
    }

    /// Take every item out, oldest turn first.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(item) = self.pop() {
            out.push(item);
        }
        out
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_across_principals_fifo_within() {
        let (a, b, c) = (
            Principal("a".into()),
            Principal("b".into()),
            Principal("c".into()),
        );
        let mut q = FairQueue::default();
        for i in 0..4 {
            q.push(&a, format!("a{i}"));
        }
        q.push(&b, "b0".to_owned());
        q.push(&c, "c0".to_owned());
        q.push(&b, "b1".to_owned());
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]);
        assert!(q.is_empty());
    }

    #[test]
    fn retain_drops_cancelled() {
        let a = Principal("a".into());
        let mut q = FairQueue::default();
        (0..5).for_each(|i| q.push(&a, i));
        assert_eq!(q.retain(|i| i % 2 == 0), 2);
        assert_eq!(q.drain(), [0, 2, 4]);
    }
}

//! The wait queue in front of a model's parallel sequences: weighted
//! round-robin across principals, FIFO within one. A principal of weight `w`
//! gets up to `w` admissions in a row when its turn comes, then goes to the
//! back of the line; one flooding the queue therefore never delays another by
//! more than the sum of the others' weights. Owned by the scheduler thread; the
//! bound on its length is enforced by the submitting side (see
//! `SchedulerHandle::submit`).

use std::collections::VecDeque;

use hearth_core::backend::Principal;

/// One principal's place in the line.
#[derive(Debug)]
struct Turn<T> {
    principal: Principal,
    weight: u32,
    /// Admissions in the current turn.
    used: u32,
    items: VecDeque<T>,
}

/// Per-principal FIFO queues served in weighted turns.
#[derive(Debug)]
pub struct FairQueue<T> {
    turns: VecDeque<Turn<T>>,
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
    /// Append `item` to `principal`'s queue; `weight` (at least 1) is the
    /// principal's weight from now on.
    pub fn push(&mut self, principal: &Principal, weight: u32, item: T) {
        self.len += 1;
        let weight = weight.max(1);
        match self.turns.iter_mut().find(|t| &t.principal == principal) {
            Some(turn) => {
                turn.weight = weight;
                turn.items.push_back(item);
            }
            None => self.turns.push_back(Turn {
                principal: principal.clone(),
                weight,
                used: 0,
                items: VecDeque::from([item]),
            }),
        }
    }

    /// The oldest item of the principal whose turn it is; after `weight`
    /// admissions (or when its queue empties) that principal goes to the back.
    pub fn pop(&mut self) -> Option<T> {
        let mut turn = self.turns.pop_front()?;
        let item = turn.items.pop_front();
        turn.used += 1;
        if !turn.items.is_empty() {
            if turn.used < turn.weight {
                self.turns.push_front(turn);
            } else {
                turn.used = 0;
                self.turns.push_back(turn);
            }
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Remove every item for which `keep` is false (e.g. cancelled while waiting).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        let before = self.len;
        for turn in &mut self.turns {
            turn.items.retain(&mut keep);
        }
        self.turns.retain(|t| !t.items.is_empty());
        self.len = self.turns.iter().map(|t| t.items.len()).sum();
        before - self.len
    }

    /// Take every item out, in admission order.
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

    fn principals() -> (Principal, Principal, Principal) {
        (
            Principal("a".into()),
            Principal("b".into()),
            Principal("c".into()),
        )
    }

    #[test]
    fn round_robin_across_principals_fifo_within() {
        let (a, b, c) = principals();
        let mut q = FairQueue::default();
        for i in 0..4 {
            q.push(&a, 1, format!("a{i}"));
        }
        q.push(&b, 1, "b0".to_owned());
        q.push(&c, 1, "c0".to_owned());
        q.push(&b, 1, "b1".to_owned());
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]);
        assert!(q.is_empty());
    }

    #[test]
    fn weights_give_consecutive_admissions_per_turn() {
        let (a, b, _) = principals();
        let mut q = FairQueue::default();
        for i in 0..6 {
            q.push(&a, 3, format!("a{i}"));
        }
        for i in 0..3 {
            q.push(&b, 1, format!("b{i}"));
        }
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            ["a0", "a1", "a2", "b0", "a3", "a4", "a5", "b1", "b2"]
        );
    }

    #[test]
    fn a_flood_never_delays_a_newcomer_beyond_one_turn() {
        let (a, b, _) = principals();
        let mut q = FairQueue::default();
        for i in 0..100 {
            q.push(&a, 2, i);
        }
        assert_eq!(q.pop(), Some(0));
        q.push(&b, 1, 1000);
        // a finishes its turn of 2, then b.
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(1000));
    }

    #[test]
    fn retain_drops_cancelled() {
        let (a, _, _) = principals();
        let mut q = FairQueue::default();
        (0..5).for_each(|i| q.push(&a, 1, i));
        assert_eq!(q.retain(|i| i % 2 == 0), 2);
        assert_eq!(q.drain(), [0, 2, 4]);
    }
}

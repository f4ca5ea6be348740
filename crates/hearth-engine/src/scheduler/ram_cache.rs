//! The second tier of the prefix cache: sequence states saved to host RAM when
//! their slot is needed for something else, restored when a later prompt
//! continues them. Keeps more conversations warm than there are slots, within
//! a byte budget, evicting the least recently used.
//!
//! Owned by the scheduler thread. Generic over the saved state so the policy
//! is testable without llama.cpp. Invariant: `used` is the sum of the entries'
//! sizes and never exceeds `budget`.

use hearth_core::backend::Principal;
use llama_cpp_2::token::LlamaToken;

use super::slots::{PrefixScope, common_prefix};

/// One saved sequence.
#[derive(Debug)]
pub struct Saved<S> {
    /// Whose conversation it is.
    pub owner: Principal,
    /// The tokens whose KV the state holds.
    pub tokens: Vec<LlamaToken>,
    /// The opaque state.
    pub state: S,
    bytes: usize,
    last_used: u64,
}

/// Saved sequence states under a byte budget.
#[derive(Debug)]
pub struct RamCache<S> {
    entries: Vec<Saved<S>>,
    budget: usize,
    used: usize,
    clock: u64,
}

impl<S> RamCache<S> {
    /// An empty cache holding at most `budget` bytes (0 disables it).
    pub fn new(budget: usize) -> RamCache<S> {
        RamCache {
            entries: Vec::new(),
            budget,
            used: 0,
            clock: 0,
        }
    }

    /// Whether saving is worth trying at all.
    pub fn is_enabled(&self) -> bool {
        self.budget > 0
    }

    /// Keep `state` (of `bytes` bytes); older entries make room, and entries
    /// it extends are dropped as redundant. Too large a state is not kept.
    pub fn insert(&mut self, owner: Principal, tokens: Vec<LlamaToken>, state: S, bytes: usize) {
        if bytes > self.budget {
            return;
        }
        self.remove_where(|e| e.owner == owner && tokens.starts_with(&e.tokens));
        while self.used + bytes > self.budget {
            let Some(oldest) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].last_used)
            else {
                break;
            };
            self.used -= self.entries.swap_remove(oldest).bytes;
        }
        self.clock += 1;
        self.used += bytes;
        let last_used = self.clock;
        self.entries.push(Saved {
            owner,
            tokens,
            state,
            bytes,
            last_used,
        });
    }

    /// The entry sharing the longest prefix with `prompt` (at most
    /// `max_keep` tokens), if `principal` may use it: `(index, shared)`.
    pub fn best_match(
        &self,
        prompt: &[LlamaToken],
        principal: &Principal,
        scope: PrefixScope,
        max_keep: usize,
    ) -> Option<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| scope == PrefixScope::Server || &e.owner == principal)
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt).min(max_keep)))
            .filter(|&(_, keep)| keep > 0)
            .max_by_key(|&(i, keep)| (keep, self.entries[i].last_used))
    }

    /// Remove and return entry `index` (from [`best_match`](Self::best_match)).
    pub fn take(&mut self, index: usize) -> Saved<S> {
        let entry = self.entries.swap_remove(index);
        self.used -= entry.bytes;
        entry
    }

    /// Bytes held.
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    /// Number of saved sequences.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn remove_where(&mut self, mut redundant: impl FnMut(&Saved<S>) -> bool) {
        let mut i = 0;
        while i < self.entries.len() {
            if redundant(&self.entries[i]) {
                self.used -= self.entries.swap_remove(i).bytes;
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().map(|&i| LlamaToken(i)).collect()
    }

    #[test]
    fn evicts_lru_within_budget_and_scopes_by_principal() {
        let (a, b) = (Principal("a".into()), Principal("b".into()));
        let mut cache = RamCache::new(100);
        cache.insert(a.clone(), toks(&[1, 2, 3]), "x", 60);
        cache.insert(b.clone(), toks(&[1, 2, 4]), "y", 30);
        cache.insert(a.clone(), toks(&[5, 6]), "z", 40); // evicts "x"
        assert_eq!(cache.used_bytes(), 70);
        assert_eq!(cache.len(), 2);
        let prompt = toks(&[1, 2, 4, 9]);
        assert_eq!(
            cache.best_match(&prompt, &a, PrefixScope::Principal, 3),
            None
        );
        let (i, keep) = cache
            .best_match(&prompt, &b, PrefixScope::Principal, 3)
            .unwrap();
        assert_eq!((keep, cache.take(i).state), (3, "y"));
        assert_eq!(cache.used_bytes(), 40);
    }

    #[test]
    fn a_longer_save_replaces_its_prefix_and_oversized_states_are_skipped() {
        let a = Principal("a".into());
        let mut cache = RamCache::new(100);
        cache.insert(a.clone(), toks(&[1, 2]), 1, 10);
        cache.insert(a.clone(), toks(&[1, 2, 3]), 2, 10);
        assert_eq!(cache.len(), 1);
        cache.insert(a.clone(), toks(&[7]), 3, 1000);
        assert_eq!(cache.len(), 1);
    }
}

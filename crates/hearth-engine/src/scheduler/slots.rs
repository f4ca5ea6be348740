//! The sequence slots of one llama context and where a new request goes.
//!
//! Each slot is a llama.cpp sequence id whose KV cells hold exactly
//! `Slot::tokens` (positions `0..tokens.len()`). There are more slots than
//! parallel sequences: idle slots keep finished conversations warm. Placement
//! is pure logic ([`place`]); the scheduler applies it to the KV cache.
//! Reuse is limited to slots of the same principal unless the scope is the
//! whole server, since timing could reveal another tenant's cached prompt.

use hearth_core::backend::Principal;
use llama_cpp_2::token::LlamaToken;

/// Who may reuse whose cached prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrefixScope {
    /// Only the principal that computed it (default).
    #[default]
    Principal,
    /// Any request on the model.
    Server,
}

/// One llama.cpp sequence id and what its KV cells hold.
#[derive(Debug, Default, Clone)]
pub struct Slot {
    /// Tokens whose KV is in the cache, positions `0..len`.
    pub tokens: Vec<LlamaToken>,
    /// Principal of the last sequence that used it.
    pub owner: Option<Principal>,
    /// A running sequence owns it.
    pub busy: bool,
    /// Logical time of last use, for LRU eviction.
    pub last_used: u64,
}

/// How a new sequence starts from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Empty the slot and compute everything.
    Fresh,
    /// Keep the slot's first `keep` tokens, drop the rest.
    Truncate {
        /// Tokens kept.
        keep: usize,
    },
    /// Share the first `keep` tokens of a running slot `source`.
    CopyFrom {
        /// The slot whose cells are shared.
        source: usize,
        /// Tokens shared.
        keep: usize,
    },
}

/// Where a new sequence goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The slot it will own.
    pub slot: usize,
    /// What it keeps from the cache.
    pub reuse: Reuse,
}

/// Tokens a slot may lose to a new sequence that shares its prefix before the
/// scheduler prefers copying that prefix elsewhere (keeping the conversation).
pub const SIGNIFICANT_TAIL: usize = 32;

/// Choose a slot for `prompt`: the idle slot that shares the longest prefix
/// if little of it is lost, else a copy of that prefix into a free slot (the
/// empty or least recently used one), else a fresh free slot.
pub fn place(
    slots: &[Slot],
    prompt: &[LlamaToken],
    principal: &Principal,
    scope: PrefixScope,
) -> Option<Placement> {
    // At least one prompt token must be decoded to get logits for the first answer token.
    let max_keep = prompt.len().saturating_sub(1);
    let best = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| scope == PrefixScope::Server || s.owner.as_ref() == Some(principal))
        .map(|(i, s)| (i, common_prefix(&s.tokens, prompt).min(max_keep), s.busy))
        .filter(|&(_, keep, _)| keep > 0)
        .max_by_key(|&(i, keep, busy)| (keep, !busy, slots[i].last_used));
    let Some((source, keep, busy)) = best else {
        let target = free_slot(slots, None)?;
        return Some(Placement {
            slot: target,
            reuse: Reuse::Fresh,
        });
    };
    let tail = slots[source].tokens.len() - keep;
    if !busy && tail < SIGNIFICANT_TAIL {
        return Some(Placement {
            slot: source,
            reuse: Reuse::Truncate { keep },
        });
    }
    // Keep the source conversation intact: share its prefix into another slot,
    // unless there is none to take.
    match free_slot(slots, Some(source)) {
        Some(target) => Some(Placement {
            slot: target,
            reuse: Reuse::CopyFrom { source, keep },
        }),
        None if !busy => Some(Placement {
            slot: source,
            reuse: Reuse::Truncate { keep },
        }),
        None => None,
    }
}

/// An idle slot to overwrite (never `except`): an empty one, else the least
/// recently used.
fn free_slot(slots: &[Slot], except: Option<usize>) -> Option<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|&(i, s)| !s.busy && Some(i) != except)
        .min_by_key(|(_, s)| (!s.tokens.is_empty(), s.last_used))
        .map(|(i, _)| i)
}

/// Idle slots holding cells, least recently used first (eviction order).
pub fn eviction_order(slots: &[Slot]) -> Vec<usize> {
    let mut idle: Vec<usize> = (0..slots.len())
        .filter(|&i| !slots[i].busy && !slots[i].tokens.is_empty())
        .collect();
    idle.sort_by_key(|&i| slots[i].last_used);
    idle
}

pub(super) fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().map(|&i| LlamaToken(i)).collect()
    }

    fn slot(ids: &[i32], owner: &str, busy: bool, last_used: u64) -> Slot {
        Slot {
            tokens: toks(ids),
            owner: Some(Principal(owner.into())),
            busy,
            last_used,
        }
    }

    #[test]
    fn reuses_own_idle_prefix_and_keeps_one_token_to_decode() {
        let slots = [slot(&[1, 2, 3, 4], "a", false, 1), Slot::default()];
        let a = Principal("a".into());
        let p = place(&slots, &toks(&[1, 2, 3, 4]), &a, PrefixScope::Principal).unwrap();
        assert_eq!(
            p,
            Placement {
                slot: 0,
                reuse: Reuse::Truncate { keep: 3 }
            }
        );
        let p = place(&slots, &toks(&[1, 2, 9]), &a, PrefixScope::Principal).unwrap();
        assert_eq!(
            p,
            Placement {
                slot: 0,
                reuse: Reuse::Truncate { keep: 2 }
            }
        );
    }

    #[test]
    fn never_reuses_another_principals_cache_unless_server_scope() {
        let slots = [slot(&[1, 2, 3], "a", false, 5), Slot::default()];
        let b = Principal("b".into());
        let p = place(&slots, &toks(&[1, 2, 3, 4]), &b, PrefixScope::Principal).unwrap();
        assert_eq!(
            p,
            Placement {
                slot: 1,
                reuse: Reuse::Fresh
            }
        );
        let p = place(&slots, &toks(&[1, 2, 3, 4]), &b, PrefixScope::Server).unwrap();
        assert_eq!(p.reuse, Reuse::Truncate { keep: 3 });
    }

    #[test]
    fn keeps_a_long_conversation_and_copies_its_shared_prefix() {
        let long: Vec<i32> = (1..=100).collect();
        let slots = [slot(&long, "a", false, 3), Slot::default()];
        let a = Principal("a".into());
        let p = place(&slots, &toks(&[1, 2, 3, 77]), &a, PrefixScope::Principal).unwrap();
        assert_eq!(
            p,
            Placement {
                slot: 1,
                reuse: Reuse::CopyFrom { source: 0, keep: 3 }
            }
        );
        // With no other slot, the conversation is truncated (the scheduler saves it to RAM first).
        let p = place(
            &slots[..1],
            &toks(&[1, 2, 3, 77]),
            &a,
            PrefixScope::Principal,
        )
        .unwrap();
        assert_eq!(
            p,
            Placement {
                slot: 0,
                reuse: Reuse::Truncate { keep: 3 }
            }
        );
    }

    #[test]
    fn copies_from_a_running_slot_into_the_lru_idle_one() {
        let slots = [
            slot(&[1, 2, 3], "a", true, 9),
            slot(&[7], "a", false, 1),
            slot(&[8], "a", false, 2),
        ];
        let a = Principal("a".into());
        let p = place(&slots, &toks(&[1, 2, 5]), &a, PrefixScope::Principal).unwrap();
        assert_eq!(
            p,
            Placement {
                slot: 1,
                reuse: Reuse::CopyFrom { source: 0, keep: 2 }
            }
        );
        assert_eq!(eviction_order(&slots), [1, 2]);
    }
}

//! Random secrets and their stored form: API keys (`hk_…`), session ids, CSRF,
//! setup and invite tokens. Secrets are 24 random bytes from the OS-seeded
//! CSPRNG; only their SHA-256 is stored; comparisons are constant-time.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every API key.
pub const KEY_PREFIX: &str = "hk_";
/// Length of a whole API key: prefix + 48 hex digits.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 48;
/// Characters of a key shown in lists.
pub const KEY_SHOWN_PREFIX_LEN: usize = 12;
/// Length of session ids and other tokens (hex of 24 bytes).
pub const TOKEN_LEN: usize = 48;

/// 24 random bytes as lower-case hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    to_hex(&bytes)
}

/// A new API key.
pub fn new_api_key() -> String {
    format!("{KEY_PREFIX}{}", random_token())
}

/// Whether the text has the shape of a token (cheap check before any lookup).
pub fn is_token_shaped(text: &str) -> bool {
    text.len() == TOKEN_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether the text has the shape of an API key.
pub fn is_key_shaped(text: &str) -> bool {
    text.len() == KEY_LEN
        && text
            .strip_prefix(KEY_PREFIX)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The stored form of a secret: SHA-256, hex.
pub fn hash_secret(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

/// Compare two secrets without leaking where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_shaped() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a, b);
        assert!(is_key_shaped(&a), "{a}");
        assert!(!is_key_shaped(&a[..KEY_LEN - 1]));
        assert!(!is_key_shaped(&format!("hk_{}", "g".repeat(48))));
        assert!(is_token_shaped(&random_token()));
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}

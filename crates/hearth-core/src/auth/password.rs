//! Password policy and hashing: Argon2id PHC strings (salt and parameters stored
//! with the hash), a minimum length, a list of common passwords, and a dummy
//! hash verified for unknown users so login timing does not reveal who exists.
//! Hashing is CPU-bound: callers run it on the blocking pool.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password, in bytes (hashing cost must stay bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Passwords refused whatever their length: the most common ones of public
/// breach lists that are at least ten characters long, plus obvious patterns.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789012",
    "0123456789",
    "0987654321",
    "1111111111",
    "0000000000",
    "1234512345",
    "1122334455",
    "1234567891",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "password!1",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "asdfghjkl1",
    "asdfghjkl;",
    "zxcvbnm123",
    "iloveyou12",
    "iloveyou123",
    "letmein123",
    "welcome123",
    "welcome1234",
    "administrator",
    "admin12345",
    "admin123456",
    "changeme123",
    "changeme12",
    "football123",
    "baseball123",
    "superman123",
    "princess123",
    "sunshine123",
    "monkey12345",
    "dragon12345",
    "trustno1234",
    "michael1234",
    "liverpool1",
    "abcdefghij",
    "abcdefg123",
    "abc1234567",
    "aaaaaaaaaa",
    "abcd123456",
    "11111111111",
    "123123123123",
    "1231231231",
    "987654321a",
    "a123456789",
    "hearthhearth",
    "hearth12345",
    "hearth123456",
    "secret12345",
    "mypassword",
    "mypassword1",
    "default123",
    "starwars123",
    "computer123",
    "internet123",
];

/// Why a password is refused (shown to the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("password must be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
    /// On the list of common passwords, or equal to the user name.
    #[error("password is too common or equals the user name; choose another")]
    TooCommon,
    /// Contains a NUL or other control character.
    #[error("password must not contain control characters")]
    ControlCharacter,
}

/// Check a new password against the policy.
pub fn check_policy(password: &str, username: &str) -> Result<(), PasswordRejection> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRejection::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordRejection::TooShort);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordRejection::ControlCharacter);
    }
    let lower = password.to_lowercase();
    let distinct = lower
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    if COMMON.contains(&lower.as_str()) || lower == username.to_lowercase() || distinct < 3 {
        return Err(PasswordRejection::TooCommon);
    }
    Ok(())
}

/// Argon2id with fixed cost parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl Default for PasswordHasher {
    /// OWASP's recommended Argon2id set: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        PasswordHasher::with_cost(19 * 1024, 2, 1)
    }
}

impl PasswordHasher {
    /// A hasher with explicit cost (tests use a cheap one; `m_kib` ≥ 8·`p`).
    pub fn with_cost(m_kib: u32, t: u32, p: u32) -> Self {
        PasswordHasher {
            params: Params::new(m_kib, t, p, None).expect("valid Argon2 parameters"),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hash a password into a PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> String {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .expect("Argon2id hashing with valid parameters does not fail")
            .to_string()
    }

    /// Whether `password` matches the PHC string (false for malformed strings).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Whether a stored hash was made with other parameters (or another
    /// algorithm) and should be replaced after the next successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
    }

    /// Verify against a fixed dummy hash: same cost as a real check, always
    /// false. Used for unknown users.
    pub fn verify_dummy(&self, password: &str) {
        static DUMMY: OnceLock<(Params, String)> = OnceLock::new();
        let (params, phc) = DUMMY.get_or_init(|| {
            (
                self.params.clone(),
                self.hash("dummy password never matches"),
            )
        });
        if *params == self.params {
            let _ = self.verify(password, phc);
        } else {
            // A hasher with other costs (tests): keep the timing honest anyway.
            let _ = self.verify(password, &self.hash("dummy"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::with_cost(64, 1, 1)
    }

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let h = cheap();
        let phc = h.hash("correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify("correct horse battery", &phc));
        assert!(!h.verify("wrong horse battery", &phc));
        assert!(!h.verify("x", "not a phc string"));
        assert_ne!(phc, h.hash("correct horse battery"), "salted");
        assert!(!h.needs_rehash(&phc));
        assert!(PasswordHasher::with_cost(128, 1, 1).needs_rehash(&phc));
        assert!(h.needs_rehash("garbage"));
    }

    #[test]
    fn policy_refuses_short_common_and_control() {
        assert_eq!(check_policy("short", "u"), Err(PasswordRejection::TooShort));
        assert_eq!(
            check_policy("Password123", "u"),
            Err(PasswordRejection::TooCommon)
        );
        assert_eq!(
            check_policy("aliceliddell", "AliceLiddell"),
            Err(PasswordRejection::TooCommon)
        );
        assert_eq!(
            check_policy("abababababab", "u"),
            Err(PasswordRejection::TooCommon)
        );
        assert_eq!(
            check_policy("nul\0inside-here", "u"),
            Err(PasswordRejection::ControlCharacter)
        );
        assert_eq!(
            check_policy(&"x".repeat(2000), "u"),
            Err(PasswordRejection::TooLong)
        );
        assert_eq!(check_policy("correct horse battery", "u"), Ok(()));
    }
}

//! Validation of the identifiers users choose: user names, key labels, scope
//! and model lists. Anything outside the bounds is refused with the field
//! named; what passes is stored as data only (every query binds parameters).

use hearth_types::Scope;

use super::AuthError;

/// Longest user name.
pub const MAX_USERNAME: usize = 64;
/// Longest key label.
pub const MAX_KEY_NAME: usize = 100;
/// Most models in an allowlist.
pub const MAX_MODELS: usize = 100;

/// A user name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit;
/// upper case is folded to lower case.
pub fn valid_username(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= MAX_USERNAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        return Err(AuthError::invalid(
            "username",
            format!(
                "username must be 1-{MAX_USERNAME} characters of a-z, 0-9, '.', '_' or '-', \
                 starting with a letter or digit"
            ),
        ));
    }
    Ok(name)
}

/// A key label: 1–100 characters, no control characters.
pub fn valid_key_name(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control)
    {
        return Err(AuthError::invalid(
            "name",
            format!("name must be 1-{MAX_KEY_NAME} characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Scope names, deduplicated and sorted; at least one.
pub fn valid_scopes(raw: &[String]) -> Result<Vec<Scope>, AuthError> {
    let mut scopes = Vec::new();
    for text in raw {
        let scope = Scope::parse(text).ok_or_else(|| {
            let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            AuthError::invalid(
                "scopes",
                format!("unknown scope; allowed: {}", known.join(", ")),
            )
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(AuthError::invalid("scopes", "give at least one scope"));
    }
    scopes.sort();
    Ok(scopes)
}

/// A model allowlist: 1–100 names of 1–200 printable characters.
pub fn valid_models(raw: &[String]) -> Result<Vec<String>, AuthError> {
    let ok = !raw.is_empty() && raw.len() <= MAX_MODELS && raw.iter().all(|m| is_model_name(m));
    if !ok {
        return Err(AuthError::invalid(
            "models",
            format!(
                "models must list 1-{MAX_MODELS} model names (1-200 of A-Z a-z 0-9 . _ : / @ + -, \
                 no '..'); omit it to allow every model"
            ),
        ));
    }
    Ok(raw.to_vec())
}

/// A model name as clients write it (`smollm2:135m`, `hf.co/org/repo:Q4_K_M`).
fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('/')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/@+-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_folded_and_hostile_ones_refused() {
        assert_eq!(valid_username(" Alice.B ").unwrap(), "alice.b");
        for bad in [
            "",
            "-x",
            "../etc",
            "a b",
            "'; DROP TABLE users; --",
            "nul\0x",
            "ü",
            "a/b",
            &"a".repeat(65),
        ] {
            assert!(valid_username(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn key_names_scopes_and_models() {
        assert_eq!(valid_key_name(" ci ").unwrap(), "ci");
        assert!(valid_key_name("a\0b").is_err());
        assert!(valid_key_name(&"x".repeat(101)).is_err());
        assert_eq!(
            valid_scopes(&["embed".into(), "chat".into(), "chat".into()]).unwrap(),
            vec![Scope::Chat, Scope::Embed]
        );
        assert!(valid_scopes(&[]).is_err());
        assert!(valid_scopes(&["root".into()]).is_err());
        assert!(valid_models(&["a b".into()]).is_err());
        assert!(valid_models(&["../../etc/passwd".into()]).is_err());
        assert!(valid_models(&["hf.co/org/repo:Q4_K_M".into()]).is_ok());
        assert!(valid_models(&["smollm2:135m".into()]).is_ok());
    }
}

//! Passwords (argon2id) and session tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// A secret whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

pub fn hash_password(password: &Secret) -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the OS random source: {e}"))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.0.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

pub fn verify_password(password: &Secret, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.0.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random token for a cookie or a resume link (256 bits, hex).
pub fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source");
    Secret(hex::encode(bytes))
}

/// What the database keeps of a token: its SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password(&Secret("correct horse".into())).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&Secret("correct horse".into()), &h));
        assert!(!verify_password(&Secret("correct horsE".into()), &h));
        assert!(!verify_password(&Secret("x".into()), "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_debug_is_masked() {
        let a = new_token();
        assert_ne!(a.0, new_token().0);
        assert_eq!(a.0.len(), 64);
        assert_eq!(format!("{a:?}"), "***");
        assert_ne!(token_hash(&a.0), a.0);
    }
}

//! Random tokens (session cookies, resume links) and what the store keeps
//! of them.

use sha2::{Digest, Sha256};

/// A secret whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A random token for a cookie or a resume link (256 bits, hex).
pub fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source");
    Secret(hex::encode(bytes))
}

/// What the store keeps of a token: its SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.0.len(), 64);
        assert_ne!(a.0, b.0);
        assert_eq!(format!("{a:?}"), "***");
        assert_eq!(token_hash(&a.0), token_hash(&a.0));
        assert_ne!(token_hash(&a.0), a.0);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

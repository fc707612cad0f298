//! Passwords (argon2id), and the key that hashes who a patient's browser
//! is. Session and resume tokens are `service::tokens`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use service::tokens::Secret;
use sha2::{Digest, Sha256};

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

/// The server's key for hashing who a patient's browser is (its widget id
/// and IP address) before that reaches the database: HMAC-SHA256, so the
/// stored hashes can be matched against a new connection but not reversed by
/// someone holding only the database (an IPv4 address alone is a 32-bit
/// search). The key lives in its own file, readable by the server's user only.
pub struct IdentityKey([u8; 32]);

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKey(***)")
    }
}

impl IdentityKey {
    /// A fresh random key (tests, and an in-memory database).
    pub fn random() -> IdentityKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source");
        IdentityKey(key)
    }

    /// Reads the key at `path`, creating it (mode 0600) on first start.
    pub fn load_or_create(path: &std::path::Path) -> anyhow::Result<IdentityKey> {
        use anyhow::Context;
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = hex::decode(bytes.trim_ascii())
                    .ok()
                    .and_then(|k| k.try_into().ok())
                    .with_context(|| format!("{}: expected 64 hex digits", path.display()))?;
                Ok(IdentityKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = IdentityKey::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                std::io::Write::write_all(&mut file, hex::encode(key.0).as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// HMAC-SHA256 of `value` under this key, tagged with what it is so a
    /// browser id can never equal an address's hash. Hex.
    pub fn hash(&self, kind: &str, value: &str) -> String {
        hex::encode(hmac_sha256(
            &self.0,
            &[kind.as_bytes(), &[0], value.as_bytes()],
        ))
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `message` parts, for keys of
/// at most one block (64 bytes).
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    assert!(
        key.len() <= 64,
        "longer keys are hashed first; not needed here"
    );
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = Sha256::new().chain_update(ipad);
    for part in message {
        inner.update(part);
    }
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner.finalize())
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: key "Jefe".
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 1: a 20-byte key of 0x0b.
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn identity_hashes_depend_on_kind_and_key() {
        let key = IdentityKey([7; 32]);
        let h = key.hash("fp", "abc");
        assert_eq!(h, key.hash("fp", "abc"));
        assert_ne!(key.hash("ip", "abc"), h);
        assert_ne!(IdentityKey::random().hash("fp", "abc"), h);
        assert_eq!(format!("{key:?}"), "IdentityKey(***)");
    }

    #[test]
    fn identity_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("carechat.key");
        let a = IdentityKey::load_or_create(&path).unwrap();
        let b = IdentityKey::load_or_create(&path).unwrap();
        assert_eq!(a.hash("ip", "10.0.0.1"), b.hash("ip", "10.0.0.1"));
        std::fs::write(&path, "short").unwrap();
        let err = IdentityKey::load_or_create(&path).unwrap_err();
        assert!(format!("{err:#}").contains("64 hex digits"), "{err:#}");
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password(&Secret("correct horse".into())).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&Secret("correct horse".into()), &h));
        assert!(!verify_password(&Secret("correct horsE".into()), &h));
        assert!(!verify_password(&Secret("x".into()), "not a hash"));
    }
}

//! The server's key: it hashes who a patient's browser is, and seals the
//! audit trail. Passwords are `service::accounts`; session and resume tokens
//! `service::tokens`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The server's key, in its own file beside the database (readable by the
/// server's user only), never in the database:
/// - it hashes who a patient's browser is (its widget id and IP address)
///   before that reaches the database: HMAC-SHA256, so the stored hashes can
///   be matched against a new connection but not reversed by someone holding
///   only the database (an IPv4 address alone is a 32-bit search);
/// - the audit trail's seals are made under a key derived from it
///   ([`ServerKey::audit_key`]), so someone holding only the database cannot
///   rewrite the trail unnoticed.
///
/// Losing the file loses both: blocks no longer match and the trail no
/// longer verifies. docs/security.md says to back it up apart from the
/// database.
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(***)")
    }
}

impl ServerKey {
    /// A fresh random key (tests, and an in-memory database).
    pub fn random() -> ServerKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source");
        ServerKey(key)
    }

    /// Reads the key at `path`, creating it (mode 0600) on first start.
    pub fn load_or_create(path: &std::path::Path) -> anyhow::Result<ServerKey> {
        use anyhow::Context;
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = hex::decode(bytes.trim_ascii())
                    .ok()
                    .and_then(|k| k.try_into().ok())
                    .with_context(|| format!("{}: expected 64 hex digits", path.display()))?;
                Ok(ServerKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = ServerKey::random();
                crate::master::write_new(path, &hex::encode(key.0))?;
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// HMAC-SHA256 of `value` under this key, tagged with what it is so a
    /// browser id can never equal an address's hash. Hex.
    pub fn hash(&self, kind: &str, value: &str) -> String {
        hex::encode(self.mac(kind, value))
    }

    /// The key that seals the audit trail: this key's MAC of a label no
    /// identity hash uses.
    pub fn audit_key(&self) -> store::AuditKey {
        store::AuditKey::new(self.mac("audit", "seal"))
    }

    /// The key frames between the nodes of a cluster are sealed under
    /// (`crate::cluster`).
    pub fn relay_key(&self) -> [u8; 32] {
        self.mac("cluster", "relay")
    }

    /// The key two-factor secrets are sealed under (`service::mfa`).
    pub fn mfa_key(&self) -> service::mfa::SecretKey {
        service::mfa::SecretKey::new(self.mac("mfa", "seal"))
    }

    fn mac(&self, kind: &str, value: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_hashes_are_unchanged_from_the_hand_written_hmac() {
        // Hashes stored before the switch to the `hmac` crate must still
        // match. Computed apart from this code, with Python's `hmac`:
        // hmac.new(bytes([7] * 32), b"address\x0010.0.0.1", "sha256").
        const OLD_ADDRESS_HASH: &str =
            "c4390d714ad37cb547671467ddd60a5d3b360193b3f755267de1f8abbbd416d1";
        let key = ServerKey([7; 32]);
        assert_eq!(
            key.hash("address", "10.0.0.1"),
            OLD_ADDRESS_HASH,
            "blocks made before the upgrade must keep matching"
        );
    }

    #[test]
    fn identity_hashes_depend_on_kind_and_key() {
        let key = ServerKey([7; 32]);
        let h = key.hash("fp", "abc");
        assert_eq!(h, key.hash("fp", "abc"));
        assert_ne!(key.hash("ip", "abc"), h);
        assert_ne!(ServerKey::random().hash("fp", "abc"), h);
        assert_eq!(format!("{key:?}"), "ServerKey(***)");
    }

    #[test]
    fn identity_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("carechat.key");
        let a = ServerKey::load_or_create(&path).unwrap();
        let b = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(a.hash("ip", "10.0.0.1"), b.hash("ip", "10.0.0.1"));
        std::fs::write(&path, "short").unwrap();
        let err = ServerKey::load_or_create(&path).unwrap_err();
        assert!(format!("{err:#}").contains("64 hex digits"), "{err:#}");
    }

    #[test]
    fn the_audit_key_is_derived_apart_from_identity_hashes() {
        let key = ServerKey([7; 32]);
        assert_eq!(
            format!("{:?}", key.audit_key()),
            "AuditKey(***)",
            "never printed"
        );
        // The audit key is this key's MAC of ("audit", "seal"): no browser or
        // address hash can be it, since those are tagged "browser"/"address".
        assert_eq!(key.mac("audit", "seal"), key.mac("audit", "seal"));
        assert_ne!(key.mac("audit", "seal"), key.mac("address", "seal"));
    }
}

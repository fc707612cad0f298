//! The audit trail's chain: each entry is sealed with HMAC-SHA256, under a
//! key kept outside the database, over its own fields and the seal of the
//! entry before it. Someone who can write the database but does not hold the
//! key cannot change, insert or remove an entry without breaking every seal
//! from there on; [`crate::Moderation::verify_audit`] finds the first break.
//!
//! What the chain cannot show on its own: entries cut from the end (the last
//! seal is then simply an earlier one). `docs/security.md` says how a clinic
//! covers that (the exported trail, kept elsewhere).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::AuditId;

/// The key that seals the audit trail. Never stored in the database.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    pub fn new(bytes: [u8; 32]) -> AuditKey {
        AuditKey(bytes)
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

/// An entry's fields as stored, in the form its seal covers.
pub(crate) struct Sealed<'a> {
    pub id: i64,
    pub at: &'a str,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
    pub address: Option<&'a str>,
}

impl Sealed<'_> {
    /// The seal (hex) of this entry after the one sealed `previous` (empty
    /// for the first entry). Each field is length-prefixed, so no two
    /// different entries read the same.
    pub fn seal(&self, key: &AuditKey, previous: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("any key length");
        let id = self.id.to_string();
        let actor = self.actor_id.map(|a| a.to_string()).unwrap_or_default();
        let fields: [&[u8]; 8] = [
            b"carechat-audit-v1",
            id.as_bytes(),
            self.at.as_bytes(),
            actor.as_bytes(),
            self.action.as_bytes(),
            self.subject.as_bytes(),
            self.detail.as_bytes(),
            self.address.unwrap_or("\u{0}").as_bytes(),
        ];
        for field in fields.iter().chain([&previous.as_bytes()]) {
            mac.update(&(field.len() as u64).to_le_bytes());
            mac.update(field);
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// What checking the audit trail found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerdict {
    /// Entries checked.
    pub entries: u64,
    /// The first entry whose seal does not hold, and why; `None` when the
    /// whole chain holds.
    pub broken: Option<(AuditId, &'static str)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: &str) -> Sealed<'_> {
        Sealed {
            id: 1,
            at: "2026-12-06T10:00:00Z",
            actor_id: Some(2),
            action: "read",
            subject: "c1",
            detail,
            address: None,
        }
    }

    #[test]
    fn a_seal_covers_every_field_the_key_and_the_previous_seal() {
        let key = AuditKey::new([1; 32]);
        let seal = entry("").seal(&key, "");
        assert_eq!(seal.len(), 64);
        assert_eq!(seal, entry("").seal(&key, ""));
        assert_ne!(seal, entry("x").seal(&key, ""));
        assert_ne!(seal, entry("").seal(&key, "00"));
        assert_ne!(seal, entry("").seal(&AuditKey::new([2; 32]), ""));
        let mut moved = entry("");
        moved.id = 2;
        assert_ne!(seal, moved.seal(&key, ""));
        let mut addressed = entry("");
        addressed.address = Some("");
        assert_ne!(
            seal,
            addressed.seal(&key, ""),
            "no address differs from an empty one"
        );
        // A byte moved from one field to the next changes the seal.
        let mut a = entry("");
        a.subject = "c1r";
        let mut b = entry("r");
        b.subject = "c1";
        assert_ne!(a.seal(&key, ""), b.seal(&key, ""));
        assert_eq!(format!("{key:?}"), "AuditKey(***)");
    }
}

//! Two-factor sign-in: a TOTP secret per account ([`crate::totp`]), stored
//! sealed, and ten one-time recovery codes stored as hashes.
//!
//! - Enrolment from the command line (`carechat user mfa enroll NAME`) is
//!   confirmed at once: whoever holds the machine scans the printed URI.
//!   From the console it is two steps: a secret is proposed, and only a
//!   code made from it switches it on (so a mis-scan cannot lock anyone
//!   out).
//! - The secret is sealed under a key derived from the server's key file
//!   with AES-256-GCM (random nonce, the account's id as associated data:
//!   a secret copied to another account does not open), so a copy of the
//!   database alone cannot make codes. Secrets sealed by earlier versions
//!   (an HMAC-SHA256 keystream, no tag) still open, and are sealed again
//!   under the AEAD when the server starts ([`Staff::reseal_secrets`]).
//! - Roles in `mfa.required_roles` (admins by default) cannot sign in
//!   without it: they are told to enrol (`mfa_required`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{NewAudit, Role, User, UserId, UserUpdate};

use crate::accounts::Staff;
use crate::tokens::token_hash;
use crate::totp;
use crate::{ServiceError, ServiceResult};

/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// The key TOTP secrets are sealed under. Never stored in the database.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn new(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// The keystream of the earlier seal (read only, for secrets sealed
    /// before the AEAD).
    fn pad(&self, user: UserId, nonce: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut block = 0u32;
        while out.len() < len {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
            mac.update(b"carechat-totp\0");
            mac.update(&user.0.to_be_bytes());
            mac.update(nonce);
            mac.update(&block.to_be_bytes());
            out.extend_from_slice(&mac.finalize().into_bytes());
            block += 1;
        }
        out.truncate(len);
        out
    }

    fn ad(user: UserId) -> Vec<u8> {
        [&b"carechat totp\0"[..], &user.0.to_be_bytes()].concat()
    }

    /// `secret` sealed for `user`: `v2:` and the hex of AES-256-GCM's
    /// nonce, ciphertext and tag.
    pub fn seal(&self, user: UserId, secret: &[u8]) -> String {
        format!(
            "{SEALED_V2}{}",
            hex::encode(store::envelope::seal_with(&self.0, &Self::ad(user), secret))
        )
    }

    /// Whether `sealed` was sealed before the AEAD (to be sealed again).
    pub fn is_legacy(sealed: &str) -> bool {
        !sealed.starts_with(SEALED_V2)
    }

    /// The secret `sealed` holds for `user`; `None` when it does not open
    /// (another account's, another key's, or changed).
    pub fn open(&self, user: UserId, sealed: &str) -> Option<Vec<u8>> {
        if let Some(v2) = sealed.strip_prefix(SEALED_V2) {
            let bytes = hex::decode(v2).ok()?;
            return store::envelope::open_with(&self.0, &Self::ad(user), &bytes).ok();
        }
        let bytes = hex::decode(sealed).ok()?;
        if bytes.len() <= 16 {
            return None;
        }
        let (nonce, body) = bytes.split_at(16);
        let pad = self.pad(user, nonce, body.len());
        Some(body.iter().zip(pad).map(|(a, b)| a ^ b).collect())
    }

    /// The earlier seal, for the test that earlier secrets still open.
    #[cfg(test)]
    fn seal_legacy(&self, user: UserId, secret: &[u8]) -> String {
        let nonce = [9u8; 16];
        let pad = self.pad(user, &nonce, secret.len());
        let sealed: Vec<u8> = secret.iter().zip(pad).map(|(a, b)| a ^ b).collect();
        format!("{}{}", hex::encode(nonce), hex::encode(sealed))
    }
}

/// What marks a secret sealed under the AEAD.
const SEALED_V2: &str = "v2:";

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// What enrolling gives the person: the secret to scan or type, and (once
/// confirmed) their recovery codes, shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub uri: String,
    pub recovery_codes: Vec<String>,
}

/// What is stored of a recovery code: its SHA-256, as of any token, over
/// the code as typed loosely (case, dashes and spaces ignored).
fn code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&normal)
}

fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; totp::SECRET_BYTES];
    getrandom::fill(&mut secret).expect("the OS random source");
    secret
}

/// Ten codes of ten base32 characters (50 bits each), grouped 5-5.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            getrandom::fill(&mut bytes).expect("the OS random source");
            let code = &totp::base32(&bytes)[..10];
            format!("{}-{}", &code[..5], &code[5..])
        })
        .collect()
}

impl Staff {
    fn key(&self) -> ServiceResult<&SecretKey> {
        self.secret_key.as_ref().ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("no key to seal two-factor secrets with"))
        })
    }

    /// Seals again under the AEAD every two-factor secret sealed before
    /// it (run at start); how many accounts changed. Removed accounts keep
    /// theirs, unused.
    pub async fn reseal_secrets(&self) -> ServiceResult<usize> {
        let Ok(key) = self.key() else {
            return Ok(0);
        };
        let mut changed = 0;
        for user in self.store.users().await? {
            if user.removed_at.is_some() {
                continue;
            }
            let reseal = |sealed: &Option<String>| -> Option<Option<String>> {
                let old = sealed.as_deref().filter(|s| SecretKey::is_legacy(s))?;
                key.open(user.id, old)
                    .map(|secret| Some(key.seal(user.id, &secret)))
            };
            let (secret, pending) = (reseal(&user.totp_secret), reseal(&user.totp_pending));
            if secret.is_none() && pending.is_none() {
                continue;
            }
            self.store
                .update_user(
                    user.id,
                    UserUpdate {
                        totp_secret: secret,
                        totp_pending: pending,
                        ..UserUpdate::default()
                    },
                )
                .await?;
            changed += 1;
        }
        Ok(changed)
    }

    /// Whether `role` must sign in with a second factor.
    pub fn mfa_required(&self, role: Role) -> bool {
        self.mfa_roles.contains(&role)
    }

    async fn issue_recovery_codes(&self, user: &User) -> ServiceResult<Vec<String>> {
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| code_hash(c)).collect();
        self.store.set_recovery_codes(user.id, &hashes).await?;
        Ok(codes)
    }

    /// Turns two-factor sign-in on for account `id` at once (the command
    /// line: `actor` is `None`), replacing any secret it had.
    pub async fn enroll_mfa(&self, actor: Option<&User>, id: UserId) -> ServiceResult<Enrolment> {
        let user = self.account(actor, id).await?;
        let secret = new_secret();
        let sealed = self.key()?.seal(user.id, &secret);
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    totp_secret: Some(Some(sealed)),
                    totp_pending: Some(None),
                    ..UserUpdate::default()
                },
            )
            .await?;
        let recovery_codes = self.issue_recovery_codes(&user).await?;
        self.store
            .audit(self.account_audit(actor, "mfa_enroll", &user, String::new()))
            .await?;
        Ok(Enrolment {
            secret: totp::base32(&secret),
            uri: totp::uri(&secret, &user.username, "Carechat"),
            recovery_codes,
        })
    }

    /// Proposes a new secret to `user` (their own console); nothing changes
    /// until [`Self::confirm_mfa`] gets a code made from it.
    pub async fn propose_mfa(&self, user: &User) -> ServiceResult<Enrolment> {
        let secret = new_secret();
        let sealed = self.key()?.seal(user.id, &secret);
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    totp_pending: Some(Some(sealed)),
                    ..UserUpdate::default()
                },
            )
            .await?;
        Ok(Enrolment {
            secret: totp::base32(&secret),
            uri: totp::uri(&secret, &user.username, "Carechat"),
            recovery_codes: Vec::new(),
        })
    }

    /// Switches on the proposed secret if `code` was made from it at
    /// `unix_secs`; the recovery codes come back, shown this once.
    pub async fn confirm_mfa(
        &self,
        user: &User,
        code: &str,
        unix_secs: u64,
    ) -> ServiceResult<Vec<String>> {
        let user = self.store.user(user.id).await?;
        let pending = user
            .totp_pending
            .as_deref()
            .ok_or_else(|| ServiceError::Conflict("no two-factor enrolment is under way".into()))?;
        let secret = self
            .key()?
            .open(user.id, pending)
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("a sealed secret is corrupt")))?;
        let Some(step) = totp::check(&secret, code, unix_secs, None) else {
            return Err(ServiceError::BadRequest(
                "that code does not match: check the phone's clock and try the next one".into(),
            ));
        };
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    totp_secret: Some(user.totp_pending.clone()),
                    totp_pending: Some(None),
                    ..UserUpdate::default()
                },
            )
            .await?;
        self.store.use_totp_step(user.id, step as i64).await?;
        let codes = self.issue_recovery_codes(&user).await?;
        self.store
            .audit(self.account_audit(Some(&user), "mfa_enroll", &user, String::new()))
            .await?;
        Ok(codes)
    }

    /// Turns two-factor sign-in off for account `id` (an admin's reset for
    /// a lost phone, or the command line), recovery codes too.
    pub async fn reset_mfa(&self, actor: Option<&User>, id: UserId) -> ServiceResult<User> {
        let user = self.account(actor, id).await?;
        let user = self
            .store
            .update_user(
                user.id,
                UserUpdate {
                    totp_secret: Some(None),
                    totp_pending: Some(None),
                    ..UserUpdate::default()
                },
            )
            .await?;
        self.store.set_recovery_codes(user.id, &[]).await?;
        self.store
            .audit(self.account_audit(actor, "mfa_reset", &user, String::new()))
            .await?;
        Ok(user)
    }

    /// Whether `code` is `user`'s second factor at `unix_secs`: a TOTP code
    /// not used before, or an unused recovery code (then used up, and
    /// audited).
    pub(crate) async fn second_factor(
        &self,
        user: &User,
        code: &str,
        unix_secs: u64,
        address: Option<String>,
    ) -> ServiceResult<bool> {
        let Some(sealed) = user.totp_secret.as_deref() else {
            return Ok(true);
        };
        let secret = self
            .key()?
            .open(user.id, sealed)
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("a sealed secret is corrupt")))?;
        let after = self.store.totp_last_step(user.id).await?.map(|s| s as u64);
        if let Some(step) = totp::check(&secret, code, unix_secs, after) {
            return Ok(self.store.use_totp_step(user.id, step as i64).await?);
        }
        // A recovery code is ten characters, an app's code six digits.
        let recovery = code.chars().filter(char::is_ascii_alphanumeric).count() == 10;
        if recovery
            && self
                .store
                .use_recovery_code(user.id, &code_hash(code))
                .await?
        {
            let left = self.store.recovery_codes_left(user.id).await?;
            self.store
                .audit(
                    NewAudit::new(
                        Some(user.id),
                        "mfa_recovery_used",
                        format!("user:{}", user.username),
                        format!("left={left}"),
                    )
                    .from_address(address),
                )
                .await?;
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_account_and_key() {
        let key = SecretKey::new([5; 32]);
        let secret = b"12345678901234567890";
        let sealed = key.seal(UserId(1), secret);
        assert!(sealed.starts_with("v2:") && !SecretKey::is_legacy(&sealed));
        assert_eq!(key.open(UserId(1), &sealed).unwrap(), secret);
        // Authenticated: another account, another key, or a changed byte
        // does not open at all.
        assert_eq!(key.open(UserId(2), &sealed), None);
        assert_eq!(SecretKey::new([6; 32]).open(UserId(1), &sealed), None);
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 1;
        changed[last] = if changed[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            key.open(UserId(1), std::str::from_utf8(&changed).unwrap()),
            None
        );
        assert_ne!(
            key.seal(UserId(1), secret),
            sealed,
            "a fresh nonce each time"
        );
        assert!(!sealed.contains(&hex::encode(secret)));
        assert_eq!(key.open(UserId(1), "zz"), None);
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
    }

    #[test]
    fn a_secret_sealed_before_the_aead_still_opens() {
        let key = SecretKey::new([5; 32]);
        let secret = b"12345678901234567890";
        let old = key.seal_legacy(UserId(1), secret);
        assert!(SecretKey::is_legacy(&old));
        assert_eq!(key.open(UserId(1), &old).unwrap(), secret);
    }

    #[tokio::test]
    async fn secrets_sealed_before_the_aead_are_sealed_again_at_start() {
        use std::sync::Arc;
        use store::{Accounts, NewUser};
        let store = Arc::new(
            store::SqlStore::open("sqlite::memory:", store::AuditKey::new([1; 32]))
                .await
                .unwrap(),
        );
        let key = SecretKey::new([5; 32]);
        let staff = Staff::new(store.clone()).with_mfa(key.clone(), vec![Role::Admin]);
        let mut users = Vec::new();
        for name in ["ada", "bea", "cy"] {
            users.push(
                store
                    .create_user(NewUser {
                        username: name.into(),
                        display_name: name.into(),
                        role: Role::Admin,
                        password_hash: "unused".into(),
                        skills: vec![],
                        languages: vec![],
                        max_chats: 1,
                        licensed_states: vec![],
                    })
                    .await
                    .unwrap(),
            );
        }
        let secret = b"12345678901234567890";
        // Ada's secret and Bea's proposed one were sealed the old way; Cy's
        // is already under the AEAD.
        let legacy = |u: &User| Some(Some(key.seal_legacy(u.id, secret)));
        for (u, update) in [
            (
                &users[0],
                UserUpdate {
                    totp_secret: legacy(&users[0]),
                    ..Default::default()
                },
            ),
            (
                &users[1],
                UserUpdate {
                    totp_pending: legacy(&users[1]),
                    ..Default::default()
                },
            ),
            (
                &users[2],
                UserUpdate {
                    totp_secret: Some(Some(key.seal(users[2].id, secret))),
                    ..Default::default()
                },
            ),
        ] {
            store.update_user(u.id, update).await.unwrap();
        }
        assert_eq!(staff.reseal_secrets().await.unwrap(), 2);
        let ada = store.user(users[0].id).await.unwrap();
        let bea = store.user(users[1].id).await.unwrap();
        for (user, sealed) in [(&ada, &ada.totp_secret), (&bea, &bea.totp_pending)] {
            let sealed = sealed.as_deref().unwrap();
            assert!(!SecretKey::is_legacy(sealed), "{sealed}");
            assert_eq!(key.open(user.id, sealed).unwrap(), secret);
        }
        assert_eq!(staff.reseal_secrets().await.unwrap(), 0, "once is enough");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_typed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
        let c = &codes[0];
        assert_eq!(code_hash(c), code_hash(&c.to_lowercase().replace('-', " ")));
    }
}

//! Envelope encryption for what must be kept but never in the clear (the
//! patient's words as typed, beside the redacted copy the rest of Carechat
//! works on).
//!
//! - Each conversation has its own **data key** (AES-256-GCM, random).
//!   Everything of that conversation is sealed under it with a random
//!   96-bit nonce and the conversation id as associated data, so a sealed
//!   value moved to another conversation does not open.
//! - A data key is kept only **wrapped** under a **master key** (AES-256-GCM
//!   again, nonce random, the conversation id as associated data), which
//!   never reaches the database: it comes from the key file, the
//!   environment or the clinic's own key command (`console`).
//! - A master key is named by its **id**, a hash of it, stored beside each
//!   wrapped key: after a rotation the keyring holds the old key and the new
//!   one until every data key is wrapped under the new one.
//! - **Crypto-shredding**: deleting a conversation's data key makes every
//!   copy of its sealed values (a backup, a disk image) noise.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
/// Associated data prefixes: a wrapped key cannot pass for a sealed value,
/// nor the other way round.
const WRAP_AD: &[u8] = b"carechat data key\0";
const SEAL_AD: &[u8] = b"carechat sealed\0";

/// A value that should open but did not: the wrong key, the wrong
/// conversation, or changed bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a sealed value does not open (wrong key, wrong conversation, or changed)")]
pub struct SealError;

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes
}

/// `plaintext` sealed under `key` (AES-256-GCM) with `ad` as associated
/// data: a random 96-bit nonce, then the ciphertext and its tag.
pub fn seal_with(key: &[u8; 32], ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = random::<NONCE_LEN>();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .expect("AES-GCM seals any length Carechat stores");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// What [`seal_with`] sealed, if `key` and `ad` are the ones it was
/// sealed with and nothing changed.
pub fn open_with(key: &[u8; 32], ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < NONCE_LEN {
        return Err(SealError);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: ad })
        .map_err(|_| SealError)
}

fn ad(prefix: &[u8], conversation: &str) -> Vec<u8> {
    [prefix, conversation.as_bytes()].concat()
}

/// The key that wraps the data keys. Never stored in the database.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl MasterKey {
    pub fn new(key: [u8; 32]) -> MasterKey {
        let mut h = Sha256::new();
        h.update(b"carechat master key id\0");
        h.update(key);
        MasterKey {
            id: hex::encode(&h.finalize()[..8]),
            key,
        }
    }

    pub fn random() -> MasterKey {
        MasterKey::new(random())
    }

    /// Names the key without revealing it (a hash): stored beside every
    /// key it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's bytes, for writing the key file.
    pub fn expose(&self) -> &[u8; 32] {
        &self.key
    }

    pub fn wrap(&self, conversation: &str, data_key: &DataKey) -> Vec<u8> {
        seal_with(&self.key, &ad(WRAP_AD, conversation), &data_key.0)
    }

    pub fn unwrap(&self, conversation: &str, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let bytes = open_with(&self.key, &ad(WRAP_AD, conversation), wrapped)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError)?;
        Ok(DataKey(key))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, ***)", self.id)
    }
}

/// The master keys in use: the newest wraps new data keys; older ones
/// still open what they wrapped until a rotation has moved it.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// `keys` oldest first; the last is the current one. `None` when empty.
    pub fn new(keys: Vec<MasterKey>) -> Option<Keyring> {
        (!keys.is_empty()).then_some(Keyring { keys })
    }

    pub fn current(&self) -> &MasterKey {
        self.keys.last().expect("a keyring is never empty")
    }

    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn keys(&self) -> &[MasterKey] {
        &self.keys
    }
}

/// One conversation's key. Never stored unwrapped.
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn random() -> DataKey {
        DataKey(random())
    }

    /// Seals `plaintext` as a value of `conversation`.
    pub fn seal(&self, conversation: &str, plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.0, &ad(SEAL_AD, conversation), plaintext)
    }

    pub fn open(&self, conversation: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        open_with(&self.0, &ad(SEAL_AD, conversation), sealed)
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_conversation() {
        let master = MasterKey::random();
        let data = DataKey::random();
        let wrapped = master.wrap("c1", &data);
        let sealed = data.seal("c1", b"Maria Lopez, born 4 May 1961");
        assert!(!sealed.windows(5).any(|w| w == b"Maria"));

        let again = master.unwrap("c1", &wrapped).unwrap();
        assert_eq!(
            again.open("c1", &sealed).unwrap(),
            b"Maria Lopez, born 4 May 1961"
        );
        // Another conversation, another master key, changed bytes, a
        // wrapped key passed off as a sealed value: none opens.
        assert_eq!(again.open("c2", &sealed), Err(SealError));
        assert!(master.unwrap("c2", &wrapped).is_err());
        assert!(MasterKey::random().unwrap("c1", &wrapped).is_err());
        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert_eq!(again.open("c1", &changed), Err(SealError));
        assert_eq!(again.open("c1", &wrapped), Err(SealError));
        assert_eq!(again.open("c1", b"short"), Err(SealError));
        // Random nonces: the same words seal differently each time.
        assert_ne!(data.seal("c1", b"same"), data.seal("c1", b"same"));
    }

    #[test]
    fn a_keyring_finds_its_keys_by_id_and_wraps_with_the_newest() {
        let (old, new) = (MasterKey::random(), MasterKey::random());
        let ring = Keyring::new(vec![old.clone(), new.clone()]).unwrap();
        assert_eq!(ring.current().id(), new.id());
        assert_eq!(ring.get(old.id()).unwrap().id(), old.id());
        assert!(ring.get("0000000000000000").is_none());
        assert_eq!(MasterKey::new([7; 32]).id(), MasterKey::new([7; 32]).id());
        assert_eq!(old.id().len(), 16);
        assert!(!format!("{old:?}").contains(&hex::encode(old.expose())));
        assert!(Keyring::new(Vec::new()).is_none());
    }
}

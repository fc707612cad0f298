//! Web Push to clinicians' phones and browsers: the server's side of the
//! Push API, over ring (already built for TLS).
//!
//! - **VAPID** (RFC 8292): the server signs, for each push service's
//!   origin, a JWT (ES256) with a P-256 key of its own, kept beside the
//!   database (`<db>.vapid.key`, owner-only, made on first start). Browsers
//!   subscribe with its public key; a push service takes pushes only from
//!   the key the subscription was made with.
//! - **Message encryption** (RFC 8291, content coding `aes128gcm` of RFC
//!   8188): each push is sealed to the browser's own key (`p256dh`) and
//!   secret (`auth`) with a fresh ephemeral key: the push service carries
//!   bytes it cannot read. What is sealed is only a count and a link: no
//!   patient's words, no chat's id.
//!
//! Subscriptions' endpoints are `https:` (or `http:` to the loopback
//! address, as the tests' push service is): the server sends to no other
//! address.

use std::path::Path;

use anyhow::Context;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use ring::{aead, agreement, hkdf};
use service::push::{Delivery, Pusher};
use store::PushSubscription;

/// How long a VAPID token is good for (RFC 8292 allows at most 24 hours).
const TOKEN_SECS: u64 = 12 * 3600;
/// RFC 8188's record size, as the RFC 8291 example sends it.
const RECORD_SIZE: u32 = 4096;

/// The server's Web Push sender: its VAPID key, and who to name as its
/// contact (`sub`).
pub struct WebPush {
    key: EcdsaKeyPair,
    subject: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for WebPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebPush(***)")
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// An HKDF output length.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(prk: &hkdf::Prk, info: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    prk.expand(&[info], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-SHA256 gives up to 8160 bytes");
    out
}

/// RFC 8291 §3.3 and §3.4: `plaintext` sealed for the browser whose public
/// key is `ua_public` and secret `auth`, from the ECDH secret the server's
/// ephemeral key `as_public` shares with it, as one RFC 8188 record.
fn seal(
    ecdh_secret: &[u8],
    auth: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    salt: &[u8; 16],
    plaintext: &[u8],
) -> Vec<u8> {
    let prk_key = hkdf::Salt::new(hkdf::HKDF_SHA256, auth).extract(ecdh_secret);
    let key_info = [b"WebPush: info\0".as_slice(), ua_public, as_public].concat();
    let ikm = expand(&prk_key, &key_info, 32);
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&ikm);
    let cek = expand(&prk, b"Content-Encoding: aes128gcm\0", 16);
    let nonce = expand(&prk, b"Content-Encoding: nonce\0", 12);
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &cek).expect("a 16-byte key"),
    );
    // The last (and only) record ends with the delimiter 2 and no padding.
    let mut record = plaintext.to_vec();
    record.push(2);
    key.seal_in_place_append_tag(
        aead::Nonce::try_assume_unique_for_key(&nonce).expect("a 12-byte nonce"),
        aead::Aad::empty(),
        &mut record,
    )
    .expect("a record within AES-GCM's limit");
    let mut body = Vec::with_capacity(21 + as_public.len() + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    body
}

/// Seals `plaintext` for a subscription's keys, with a fresh ephemeral key
/// and salt.
fn encrypt(p256dh: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let rng = SystemRandom::new();
    let ephemeral = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| "no ephemeral key".to_string())?;
    let as_public = ephemeral
        .compute_public_key()
        .map_err(|_| "no ephemeral public key".to_string())?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, p256dh);
    agreement::agree_ephemeral(ephemeral, &peer, |secret| {
        seal(secret, auth, p256dh, as_public.as_ref(), &salt, plaintext)
    })
    .map_err(|_| "the subscription's key is not a P-256 point".to_string())
}

/// `scheme://host[:port]` of `url`: the audience a VAPID token names.
fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    (end > scheme_end).then(|| &url[..end])
}

impl WebPush {
    /// The key at `path` (PKCS#8, hex), made on first start; a fresh one
    /// each start without a path (an in-memory database).
    pub fn load_or_create(path: Option<&Path>, subject: String) -> anyhow::Result<WebPush> {
        let rng = SystemRandom::new();
        let pkcs8 = match path {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => hex::decode(text.trim())
                    .with_context(|| format!("{}: expected hex", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let made = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                        .map_err(|_| anyhow::anyhow!("making the VAPID key"))?;
                    crate::master::write_new(path, &hex::encode(made.as_ref()))?;
                    made.as_ref().to_vec()
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            },
            None => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| anyhow::anyhow!("making the VAPID key"))?
                .as_ref()
                .to_vec(),
        };
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| anyhow::anyhow!("the VAPID key file does not hold a P-256 key"))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Ok(WebPush {
            key,
            subject,
            agent,
        })
    }

    /// `Authorization: vapid t=JWT, k=KEY` for a push to `endpoint`
    /// (RFC 8292 §3), good for [`TOKEN_SECS`] from `now` (Unix seconds).
    fn authorization(&self, endpoint: &str, now: u64) -> Result<String, String> {
        let audience = origin(endpoint).ok_or("the endpoint is not a URL")?;
        let header = b64(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = b64(serde_json::json!({
            "aud": audience,
            "exp": now + TOKEN_SECS,
            "sub": self.subject,
        })
        .to_string()
        .as_bytes());
        let signed = format!("{header}.{claims}");
        let signature = self
            .key
            .sign(&SystemRandom::new(), signed.as_bytes())
            .map_err(|_| "signing the VAPID token".to_string())?;
        Ok(format!(
            "vapid t={signed}.{}, k={}",
            b64(signature.as_ref()),
            self.public_key()
        ))
    }
}

#[async_trait]
impl Pusher for WebPush {
    fn public_key(&self) -> String {
        b64(self.key.public_key().as_ref())
    }

    fn check(&self, endpoint: &str, p256dh: &str, auth: &str) -> Result<(), String> {
        if !crate::config::secure_or_loopback(endpoint) || origin(endpoint).is_none() {
            return Err("the endpoint must be an https address".into());
        }
        match unb64(p256dh) {
            Some(k) if k.len() == 65 && k[0] == 4 => {}
            _ => return Err("p256dh must be a P-256 public key, base64url".into()),
        }
        match unb64(auth) {
            Some(a) if a.len() == 16 => Ok(()),
            _ => Err("auth must be 16 bytes, base64url".into()),
        }
    }

    async fn push(
        &self,
        subscription: &PushSubscription,
        payload: &[u8],
        urgent: bool,
    ) -> Result<Delivery, String> {
        let p256dh = unb64(&subscription.p256dh).ok_or("a stored p256dh is not base64url")?;
        let auth = unb64(&subscription.auth).ok_or("a stored auth is not base64url")?;
        let body = encrypt(&p256dh, &auth, payload)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let authorization = self.authorization(&subscription.endpoint, now)?;
        let agent = self.agent.clone();
        let endpoint = subscription.endpoint.clone();
        let status = tokio::task::spawn_blocking(move || {
            agent
                .post(&endpoint)
                .header("Authorization", &authorization)
                .header("Content-Encoding", "aes128gcm")
                .header("Content-Type", "application/octet-stream")
                .header("TTL", if urgent { "600" } else { "3600" })
                .header("Urgency", if urgent { "high" } else { "normal" })
                .send(&body[..])
                .map(|r| r.status().as_u16())
                // The transport's error, never the URL's secret path.
                .map_err(|e| format!("push service unreachable: {e}"))
        })
        .await
        .map_err(|e| e.to_string())??;
        match status {
            200..=299 => Ok(Delivery::Sent),
            // The browser unsubscribed, or the subscription expired.
            404 | 410 => Ok(Delivery::Gone),
            s => Err(format!("the push service answered {s}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Vec<u8> {
        unb64(text).unwrap()
    }

    /// RFC 8291 Appendix A: from the example's ECDH secret, keys, salt and
    /// auth secret to the exact body it gives.
    #[test]
    fn a_message_seals_to_the_rfc_8291_example() {
        let salt: [u8; 16] = b("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = seal(
            &b("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"),
            &b("BTBZMqHH6r4Tts7J_aSIgg"),
            &b(
                "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            ),
            &b(
                "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
            ),
            &salt,
            b"When I grow up, I want to be a watermelon",
        );
        assert_eq!(
            b64(&body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmY\
             WAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexS\
             gSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn a_vapid_token_names_the_push_services_origin_and_verifies_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.vapid.key");
        let push =
            WebPush::load_or_create(Some(&path), "https://chat.clinic.example".into()).unwrap();
        // Kept: the same key on the next start, owner-only.
        let again = WebPush::load_or_create(Some(&path), String::new()).unwrap();
        assert_eq!(push.public_key(), again.public_key());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let header = push
            .authorization("https://fcm.googleapis.com/fcm/send/abc?x=1", 1_800_000_000)
            .unwrap();
        let (token, key) = header
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(key, push.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let public = b(key);
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public)
            .verify(signed.as_bytes(), &b(signature))
            .expect("the token verifies with the advertised key");
        let claims: serde_json::Value =
            serde_json::from_slice(&b(signed.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(claims["aud"], "https://fcm.googleapis.com");
        assert_eq!(claims["exp"], 1_800_000_000u64 + TOKEN_SECS);
        assert_eq!(claims["sub"], "https://chat.clinic.example");
    }

    #[test]
    fn subscriptions_are_checked_before_they_are_kept() {
        let push = WebPush::load_or_create(None, String::new()).unwrap();
        let p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        let auth = "BTBZMqHH6r4Tts7J_aSIgg";
        assert!(push.check("https://push.example/x", p256dh, auth).is_ok());
        assert!(push.check("http://127.0.0.1:9/x", p256dh, auth).is_ok());
        // Nowhere else by plain HTTP (the server would be made to send there).
        assert!(push.check("http://10.0.0.5/x", p256dh, auth).is_err());
        assert!(push.check("file:///etc/passwd", p256dh, auth).is_err());
        assert!(push.check("https://push.example/x", "AAAA", auth).is_err());
        assert!(
            push.check("https://push.example/x", p256dh, "AAAA")
                .is_err()
        );
        assert_eq!(
            origin("https://a.example:8443/p?q"),
            Some("https://a.example:8443")
        );
        assert_eq!(origin("https://"), None);
    }
}

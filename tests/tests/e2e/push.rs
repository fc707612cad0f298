//! Web Push against a push service of the test's own: a receiver on
//! 127.0.0.1 playing the part of FCM or Mozilla's autopush, and a
//! "browser" whose P-256 key and secret the test made. The nurse's
//! subscription is handed to the server as the console hands it; a waiting
//! chat and then an urgent one are pushed. The receiver checks the VAPID
//! token (RFC 8292: ES256 under the server's advertised key, for its own
//! origin, not expired) and the test opens each push as the browser would
//! (RFC 8291), written here apart from the server's sealing so that the
//! two are checked against each other.

use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carechat_e2e::{Patient, Received, Server, http_receiver};
use ring::{aead, agreement, hkdf, signature};
use serde_json::{Value, json};

/// A push service on a free port: answers `201 Created` to every POST.
fn push_service() -> (u16, mpsc::Receiver<Received>) {
    http_receiver("201 Created", "{}")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// A browser's push keys: its P-256 key (used once, as ring allows) and
/// its 16-byte secret.
struct Browser {
    key: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
    auth: [u8; 16],
}

fn browser() -> Browser {
    let rng = ring::rand::SystemRandom::new();
    let key = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng).unwrap();
    let public = key.compute_public_key().unwrap().as_ref().to_vec();
    let mut auth = [0u8; 16];
    ring::rand::SecureRandom::fill(&rng, &mut auth).unwrap();
    Browser { key, public, auth }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], Len(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// Opens an `aes128gcm` push body as the browser does (RFC 8291 §3.4,
/// RFC 8188 §2).
fn open(b: Browser, body: &[u8]) -> Value {
    let (salt, rest) = body.split_at(16);
    let record_size = u32::from_be_bytes(rest[..4].try_into().unwrap());
    assert!(record_size >= 18, "record size {record_size}");
    let id_len = rest[4] as usize;
    let (sender, ciphertext) = rest[5..].split_at(id_len);
    assert_eq!(id_len, 65, "the key id is the sender's P-256 key");
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, sender);
    let ecdh = agreement::agree_ephemeral(b.key, &peer, |s| s.to_vec()).unwrap();
    let info = [b"WebPush: info\0".as_slice(), &b.public, sender].concat();
    let ikm = derive(&b.auth, &ecdh, &info, 32);
    let cek = derive(salt, &ikm, b"Content-Encoding: aes128gcm\0", 16);
    let nonce = derive(salt, &ikm, b"Content-Encoding: nonce\0", 12);
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek).unwrap());
    let mut data = ciphertext.to_vec();
    let plain = key
        .open_in_place(
            aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
            aead::Aad::empty(),
            &mut data,
        )
        .expect("the push opens with the browser's key and secret");
    // The last record: padding zeros after a 2.
    let end = plain.iter().rposition(|&b| b != 0).unwrap();
    assert_eq!(plain[end], 2, "one final record");
    serde_json::from_slice(&plain[..end]).unwrap()
}

/// Checks the VAPID header (RFC 8292 §3): an ES256 JWT for the push
/// service's origin, signed by the advertised key.
fn check_vapid(push: &Received, key: &str, origin: &str) {
    let header = &push.headers["authorization"];
    let (token, k) = header
        .strip_prefix("vapid t=")
        .and_then(|h| h.split_once(", k="))
        .unwrap_or_else(|| panic!("not a VAPID header: {header}"));
    assert_eq!(k, key, "signed by the key browsers subscribe with");
    let (signed, sig) = token.rsplit_once('.').unwrap();
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, unb64(k))
        .verify(signed.as_bytes(), &unb64(sig))
        .expect("the VAPID token verifies");
    let (head, claims) = signed.split_once('.').unwrap();
    let head: Value = serde_json::from_slice(&unb64(head)).unwrap();
    assert_eq!(head["alg"], "ES256");
    let claims: Value = serde_json::from_slice(&unb64(claims)).unwrap();
    assert_eq!(claims["aud"], origin);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https://"))
    );
}

fn next(rx: &mpsc::Receiver<Received>) -> Received {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("a push within 30 s")
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_and_urgent_chats_reach_a_nurses_phone_sealed_and_signed() {
    let (port, pushes) = push_service();
    let origin = format!("http://127.0.0.1:{port}");
    let server = Server::start();
    server.add_user(
        "nurse",
        "clinician",
        "nursing",
        "en",
        "correct horse battery",
    );
    let nurse = server.login("nurse", "correct horse battery");
    let (code, body) = nurse.get("/api/push/key");
    assert_eq!(code, 200, "{body}");
    let key = body["key"].as_str().unwrap().to_string();
    assert_eq!(unb64(&key).len(), 65);

    // The console's subscription, as `PushSubscription.toJSON()` gives it.
    let phone = browser();
    let (code, body) = nurse.post(
        "/api/me/push",
        json!({"endpoint": format!("{origin}/push/phone-1"),
               "keys": {"p256dh": b64(&phone.public), "auth": b64(&phone.auth)}}),
    );
    assert_eq!(code, 200, "{body}");
    // A push service elsewhere by plain HTTP is refused.
    let (code, _) = nurse.post(
        "/api/me/push",
        json!({"endpoint": "http://10.1.2.3/push/x",
               "keys": {"p256dh": b64(&phone.public), "auth": b64(&phone.auth)}}),
    );
    assert_eq!(code, 400);

    // The nurse's console is closed: a nursing chat is pushed.
    let mut patient = Patient::connect(&server, "").await;
    patient
        .send("I need to talk to a nurse about the rash on my arm")
        .await;
    patient.next_where(|f| f["type"] == "status").await;
    let push = next(&pushes);
    assert_eq!(push.path, "/push/phone-1");
    assert_eq!(push.headers["content-encoding"], "aes128gcm");
    assert_eq!(push.headers["urgency"], "normal");
    assert!(push.headers["ttl"].parse::<u32>().unwrap() > 0);
    check_vapid(&push, &key, &origin);
    assert!(
        !String::from_utf8_lossy(&push.body).contains("Chat waiting"),
        "the push is sealed"
    );
    let said = open(phone, &push.body);
    assert_eq!(said["title"], "Chat waiting");
    assert_eq!(said["urgent"], false);
    assert!(!said.to_string().contains("rash"), "{said}");
    assert!(!said.to_string().contains(&patient.conversation), "{said}");

    // A new phone; the old subscription is turned off.
    let (code, _) = nurse.post(
        "/api/me/push/remove",
        json!({"endpoint": format!("{origin}/push/phone-1")}),
    );
    assert_eq!(code, 200);
    let second = browser();
    let (code, _) = nurse.post(
        "/api/me/push",
        json!({"endpoint": format!("{origin}/push/phone-2"),
               "keys": {"p256dh": b64(&second.public), "auth": b64(&second.auth)}}),
    );
    assert_eq!(code, 200);

    // An urgent chat: pushed at once, marked high urgency.
    let mut urgent = Patient::connect(&server, "").await;
    urgent
        .send("I have crushing chest pain and I can't breathe")
        .await;
    let push = next(&pushes);
    assert_eq!(push.path, "/push/phone-2");
    assert_eq!(push.headers["urgency"], "high");
    check_vapid(&push, &key, &origin);
    let said = open(second, &push.body);
    assert_eq!(said["title"], "Urgent chat waiting");
    assert_eq!(said["urgent"], true);
    assert!(!said.to_string().contains("chest"), "{said}");
    let _ = urgent.next_where(|f| f["type"] == "status").await;

    // Nothing of the chats in the server's log.
    let log = server.log();
    assert!(log.contains("pushed a waiting chat"), "{log}");
    for secret in ["rash on my arm", "chest pain", "phone-2"] {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
}

//! ID tokens signed here with keys ring makes (ES256, EdDSA); the RS256
//! tokens of a real provider are checked end to end (tests/e2e/sso.rs).

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://login.example.org";
const CLIENT: &str = "carechat";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: i64 = 1_800_000_000;

fn enc(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).unwrap())
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "nonce": NONCE,
        "iat": NOW - 5, "exp": NOW + 300,
        "preferred_username": "ada", "name": "Dr Ada Lovelace",
        "groups": ["staff", "carechat-clinician"], "skills": ["nursing", "billing"],
    })
}

/// Signs a JWT's input.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

struct Signer {
    jwk: Value,
    sign: Sign,
    alg: &'static str,
}

fn es256(kid: &str) -> Signer {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    Signer {
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                    "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])}),
        sign: Box::new(move |m| {
            pair.sign(&SystemRandom::new(), m)
                .unwrap()
                .as_ref()
                .to_vec()
        }),
        alg: "ES256",
    }
}

fn ed25519(kid: &str) -> Signer {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    Signer {
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                    "x": B64.encode(pair.public_key().as_ref())}),
        sign: Box::new(move |m| pair.sign(m).as_ref().to_vec()),
        alg: "EdDSA",
    }
}

fn token(signer: &Signer, header: Value, claims: &Value) -> String {
    let input = format!("{}.{}", enc(&header), enc(claims));
    let sig = (signer.sign)(input.as_bytes());
    format!("{input}.{}", B64.encode(sig))
}

fn signed(signer: &Signer, claims: &Value) -> String {
    let kid = signer.jwk["kid"].clone();
    token(signer, json!({"alg": signer.alg, "kid": kid}), claims)
}

fn check(token: &str, jwks: &Value) -> Result<Map<String, Value>, IdTokenError> {
    verify_id_token(token, jwks, ISSUER, CLIENT, NONCE, NOW)
}

#[test]
fn a_good_token_verifies_with_each_curve() {
    for signer in [es256("k1"), ed25519("k2")] {
        let jwks = json!({"keys": [es256("other").jwk, signer.jwk.clone()]});
        let claims = check(&signed(&signer, &claims()), &jwks).unwrap();
        assert_eq!(claims["sub"], "248289761001");
    }
}

#[test]
fn a_token_fails_on_each_thing_that_is_wrong() {
    let signer = es256("k1");
    let jwks = json!({"keys": [signer.jwk.clone()]});
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        signed(&signer, &c)
    };
    let cases = [
        (
            with("iss", json!("https://evil.example")),
            IdTokenError::Claim("issuer"),
        ),
        (
            with("aud", json!("another-app")),
            IdTokenError::Claim("audience"),
        ),
        // Several audiences need azp to name us.
        (
            with("aud", json!([CLIENT, "another-app"])),
            IdTokenError::Claim("audience"),
        ),
        (
            with("exp", json!(NOW - 3600)),
            IdTokenError::Claim("expiry"),
        ),
        (
            with("iat", json!(NOW + 3600)),
            IdTokenError::Claim("issue time"),
        ),
        (
            with("nonce", json!("replayed")),
            IdTokenError::Claim("nonce"),
        ),
        (with("sub", json!("")), IdTokenError::Claim("subject")),
    ];
    for (token, want) in cases {
        assert_eq!(check(&token, &jwks).unwrap_err(), want);
    }
    let mut two = claims();
    two["aud"] = json!([CLIENT, "another-app"]);
    two["azp"] = json!(CLIENT);
    assert!(check(&signed(&signer, &two), &jwks).is_ok());

    // A payload changed after signing.
    let good = signed(&signer, &claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims();
    forged["groups"] = json!(["carechat-admin"]);
    let forged = enc(&forged);
    parts[1] = &forged;
    assert_eq!(
        check(&parts.join("."), &jwks).unwrap_err(),
        IdTokenError::Signature
    );

    // Signed by a key the provider does not publish, under its key id.
    let stranger = es256("k1");
    assert_eq!(
        check(&signed(&stranger, &claims()), &jwks).unwrap_err(),
        IdTokenError::Signature
    );
    // An unknown key id: the caller fetches the keys again.
    assert_eq!(
        check(&signed(&es256("k9"), &claims()), &jwks).unwrap_err(),
        IdTokenError::UnknownKey
    );
}

#[test]
fn unsigned_and_shared_secret_tokens_are_refused() {
    let signer = es256("k1");
    let jwks = json!({"keys": [signer.jwk.clone(), {"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]});
    let none = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&claims()));
    assert_eq!(check(&none, &jwks).unwrap_err(), IdTokenError::Algorithm);
    let hs = token(&signer, json!({"alg": "HS256", "kid": "h"}), &claims());
    assert_eq!(check(&hs, &jwks).unwrap_err(), IdTokenError::Algorithm);
    // An EC key presented as if it were for EdDSA.
    let confused = token(&signer, json!({"alg": "EdDSA", "kid": "k1"}), &claims());
    assert_eq!(
        check(&confused, &jwks).unwrap_err(),
        IdTokenError::UnknownKey
    );
    assert_eq!(check("a.b", &jwks).unwrap_err(), IdTokenError::Malformed);
}

#[test]
fn claims_map_to_an_account() {
    let mut config = Sso {
        skills_claim: Some("skills".into()),
        ..Sso::default()
    };
    let claims = claims();
    let map = claims.as_object().unwrap();
    let id = identity(&config, map).unwrap();
    assert_eq!(id.subject, format!("{ISSUER} 248289761001"));
    assert_eq!(id.username, "ada");
    assert_eq!(id.display_name, "Dr Ada Lovelace");
    assert_eq!(id.role, Role::Clinician);
    assert_eq!(id.skills, Some(vec!["nursing".into(), "billing".into()]));
    assert_eq!(id.languages, None);

    // Admin wins over clinician; a role claim given as one string works.
    let mut admin = map.clone();
    admin.insert("groups".into(), json!("carechat-clinician carechat-admin"));
    assert_eq!(identity(&config, &admin).unwrap().role, Role::Admin);

    // No mapped group: no account.
    let mut nobody = map.clone();
    nobody.insert("groups".into(), json!(["staff"]));
    assert!(matches!(identity(&config, &nobody), Err(SsoError::NoRole)));

    // Without a skills claim configured, skills stay Carechat's to set.
    config.skills_claim = None;
    assert_eq!(identity(&config, map).unwrap().skills, None);
}

#[test]
fn the_pkce_challenge_is_rfc_7636s() {
    // RFC 7636, appendix B.
    assert_eq!(
        challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

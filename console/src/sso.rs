//! OpenID Connect, the relying party's side: the authorization code flow
//! with PKCE (RFC 7636, `S256`), a `state` bound to the browser by a
//! cookie, and a `nonce` in the ID token.
//!
//! 1. [`Provider::begin`] reads the provider's discovery document (once),
//!    makes a state, a nonce and a code verifier, keeps them for ten
//!    minutes, and gives the authorization URL the browser goes to.
//! 2. [`Provider::finish`] takes the code the browser brings back, once per
//!    state, exchanges it at the token endpoint with the verifier (and the
//!    client secret when there is one), and checks the ID token
//!    ([`verify_id_token`]: signature against the provider's published keys,
//!    issuer, audience, expiry, nonce). Claims the ID token lacks are read
//!    from the userinfo endpoint, whose `sub` must be the token's.
//! 3. [`identity`] maps the claims to a Carechat account as the clinic's
//!    `[sso]` table says; `service::sso` does the rest.
//!
//! Signatures: RS256, PS256, ES256 and EdDSA, with ring; `none` and the
//! HMAC algorithms (a shared secret is no proof of the provider) are
//! refused. Nothing here logs a token or a code.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use store::Role;

use crate::config::{Sso, secure_or_loopback};
use service::sso::SsoIdentity;

/// How long a sign-in may take at the provider.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// Sign-ins under way at once: past this, new ones are told "busy".
const PENDING_MAX: usize = 10_000;
/// Clock difference tolerated against the provider's.
const LEEWAY_SECS: i64 = 60;
/// The provider's keys are fetched again at most this often (a token
/// signed with a key not seen yet, after the provider rotated).
const KEYS_REFETCH: Duration = Duration::from_secs(60);

/// Why a sign-in failed, in words fit for the person (and a code for the
/// console). The detail goes to the server's log, never to the browser.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the sign-in expired or was started in another browser; start again")]
    Expired,
    #[error("the identity provider refused or could not be reached")]
    Provider(#[source] anyhow::Error),
    #[error("your account at the identity provider gives no Carechat role")]
    NoRole,
    #[error("too many sign-ins under way; try again in a moment")]
    Busy,
}

impl SsoError {
    pub fn code(&self) -> &'static str {
        match self {
            SsoError::Expired => "expired",
            SsoError::Provider(_) => "provider",
            SsoError::NoRole => "no_role",
            SsoError::Busy => "busy",
        }
    }
}

/// What the provider's discovery document says.
#[derive(Debug, Clone)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

struct Pending {
    verifier: String,
    nonce: String,
    started: Instant,
}

/// One clinic's identity provider.
pub struct Provider {
    config: Sso,
    metadata: tokio::sync::Mutex<Option<Metadata>>,
    keys: tokio::sync::Mutex<Option<(Value, Instant)>>,
    pending: Mutex<HashMap<String, Pending>>,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source");
    B64.encode(buf)
}

/// The PKCE challenge for `verifier` (`S256`).
pub fn challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// Reads a JSON answer, with the status when it is not a success.
fn json_of(mut response: ureq::http::Response<ureq::Body>, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .with_context(|| format!("reading the {what}"))?;
    ensure!(status.is_success(), "the {what} answered {status}");
    serde_json::from_str(&body).with_context(|| format!("the {what} is not JSON"))
}

/// A GET of JSON, off the async threads.
async fn get_json(
    url: String,
    bearer: Option<String>,
    what: &'static str,
) -> anyhow::Result<Value> {
    tokio::task::spawn_blocking(move || {
        let mut request = agent().get(&url).header("Accept", "application/json");
        if let Some(token) = bearer {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        json_of(
            request
                .call()
                .with_context(|| format!("fetching the {what}"))?,
            what,
        )
    })
    .await?
}

fn str_field(v: &Value, name: &str) -> anyhow::Result<String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the discovery document has no {name}"))
}

impl Provider {
    pub fn new(config: Sso) -> Provider {
        Provider {
            config,
            metadata: tokio::sync::Mutex::new(None),
            keys: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn only(&self) -> bool {
        self.config.only
    }

    pub fn config(&self) -> &Sso {
        &self.config
    }

    async fn metadata(&self) -> anyhow::Result<Metadata> {
        let mut cached = self.metadata.lock().await;
        if let Some(m) = cached.as_ref() {
            return Ok(m.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let doc = get_json(url, None, "discovery document").await?;
        let m = Metadata {
            issuer: str_field(&doc, "issuer")?,
            authorization_endpoint: str_field(&doc, "authorization_endpoint")?,
            token_endpoint: str_field(&doc, "token_endpoint")?,
            jwks_uri: str_field(&doc, "jwks_uri")?,
            userinfo_endpoint: doc
                .get("userinfo_endpoint")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        // OpenID Connect Discovery 1.0, 4.3: the document must name the
        // issuer it was fetched for.
        ensure!(
            m.issuer.trim_end_matches('/') == self.config.issuer.trim_end_matches('/'),
            "the discovery document names another issuer"
        );
        for url in [&m.authorization_endpoint, &m.token_endpoint, &m.jwks_uri] {
            ensure!(
                secure_or_loopback(url),
                "the provider's endpoints must be https://"
            );
        }
        *cached = Some(m.clone());
        Ok(m)
    }

    /// The provider's signing keys; fetched again when `stale` (a key id
    /// not among them), at most every [`KEYS_REFETCH`].
    async fn keys(&self, m: &Metadata, stale: bool) -> anyhow::Result<Value> {
        let mut cached = self.keys.lock().await;
        if let Some((keys, at)) = cached.as_ref()
            && (!stale || at.elapsed() < KEYS_REFETCH)
        {
            return Ok(keys.clone());
        }
        let keys = get_json(m.jwks_uri.clone(), None, "key set").await?;
        *cached = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }

    /// Starts a sign-in: the URL to send the browser to, and the state to
    /// bind to the browser (a cookie).
    pub async fn begin(&self) -> Result<(String, String), SsoError> {
        let m = self.metadata().await.map_err(SsoError::Provider)?;
        let (state, nonce, verifier) = (random_b64(24), random_b64(24), random_b64(32));
        {
            let mut pending = self.pending.lock().expect("not poisoned");
            pending.retain(|_, p| p.started.elapsed() < PENDING_FOR);
            if pending.len() >= PENDING_MAX {
                return Err(SsoError::Busy);
            }
            pending.insert(
                state.clone(),
                Pending {
                    verifier: verifier.clone(),
                    nonce: nonce.clone(),
                    started: Instant::now(),
                },
            );
        }
        let mut scopes = vec!["openid".to_string()];
        scopes.extend(
            self.config
                .scopes
                .iter()
                .filter(|s| *s != "openid")
                .cloned(),
        );
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.config.redirect_url)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge(&verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        let sep = if m.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok((format!("{}{sep}{query}", m.authorization_endpoint), state))
    }

    /// Finishes a sign-in: `state` as the browser brought it back and as
    /// its cookie holds it, the `code`, and the `iss` the provider added
    /// (RFC 9207) if it did. The ID token's claims, with userinfo's.
    pub async fn finish(
        &self,
        state: &str,
        cookie_state: Option<&str>,
        code: &str,
        iss: Option<&str>,
    ) -> Result<Map<String, Value>, SsoError> {
        // The state is used up whatever happens next.
        let pending = self.pending.lock().expect("not poisoned").remove(state);
        let pending = pending
            .filter(|p| p.started.elapsed() < PENDING_FOR)
            .filter(|_| cookie_state == Some(state))
            .ok_or(SsoError::Expired)?;
        self.exchange(pending, code, iss)
            .await
            .map_err(SsoError::Provider)
    }

    async fn exchange(
        &self,
        pending: Pending,
        code: &str,
        iss: Option<&str>,
    ) -> anyhow::Result<Map<String, Value>> {
        let m = self.metadata().await?;
        if let Some(iss) = iss {
            ensure!(iss == m.issuer, "the answer came from another issuer");
        }
        // The serializer is not `Send`: it lives only in this block.
        let (body, basic) = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &self.config.redirect_url)
                .append_pair("code_verifier", &pending.verifier);
            let basic = match &self.config.client_secret {
                Some(secret) => {
                    let enc =
                        |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                    Some(base64::engine::general_purpose::STANDARD.encode(format!(
                        "{}:{}",
                        enc(&self.config.client_id),
                        enc(secret)
                    )))
                }
                None => {
                    form.append_pair("client_id", &self.config.client_id);
                    None
                }
            };
            (form.finish(), basic)
        };
        let url = m.token_endpoint.clone();
        let tokens = tokio::task::spawn_blocking(move || {
            let mut request = agent()
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json");
            if let Some(basic) = basic {
                request = request.header("Authorization", &format!("Basic {basic}"));
            }
            json_of(
                request.send(body).context("calling the token endpoint")?,
                "token endpoint",
            )
        })
        .await??;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .context("the token endpoint gave no ID token")?;
        let now = store::Timestamp::now().unix();
        let keys = self.keys(&m, false).await?;
        let claims = match verify_id_token(
            id_token,
            &keys,
            &m.issuer,
            &self.config.client_id,
            &pending.nonce,
            now,
        ) {
            Err(IdTokenError::UnknownKey) => {
                let keys = self.keys(&m, true).await?;
                verify_id_token(
                    id_token,
                    &keys,
                    &m.issuer,
                    &self.config.client_id,
                    &pending.nonce,
                    now,
                )
            }
            other => other,
        }?;
        let mut claims = claims;
        if let (Some(url), Some(access)) = (
            m.userinfo_endpoint.clone(),
            tokens.get("access_token").and_then(Value::as_str),
        ) {
            let info = get_json(url, Some(access.to_string()), "userinfo endpoint").await?;
            ensure!(
                info.get("sub") == claims.get("sub"),
                "userinfo names another subject than the ID token"
            );
            if let Value::Object(info) = info {
                for (k, v) in info {
                    claims.entry(k).or_insert(v);
                }
            }
        }
        Ok(claims)
    }
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenError {
    #[error("the ID token is malformed")]
    Malformed,
    #[error("the ID token's algorithm is not accepted")]
    Algorithm,
    #[error("the ID token is signed with a key the provider does not publish")]
    UnknownKey,
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token's {0} is wrong")]
    Claim(&'static str),
}

fn b64(part: &str) -> Result<Vec<u8>, IdTokenError> {
    B64.decode(part).map_err(|_| IdTokenError::Malformed)
}

fn key_bytes(jwk: &Value, name: &str) -> Result<Vec<u8>, IdTokenError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or(IdTokenError::Malformed)
        .and_then(b64)
}

/// Checks the signature of `input` against the key `jwk` for `alg`.
fn verify_signature(alg: &str, jwk: &Value, input: &[u8], sig: &[u8]) -> Result<(), IdTokenError> {
    use ring::signature as s;
    let kty = jwk.get("kty").and_then(Value::as_str);
    let ok = match (alg, kty) {
        ("RS256" | "PS256", Some("RSA")) => {
            let (n, e) = (key_bytes(jwk, "n")?, key_bytes(jwk, "e")?);
            let params = if alg == "RS256" {
                &s::RSA_PKCS1_2048_8192_SHA256
            } else {
                &s::RSA_PSS_2048_8192_SHA256
            };
            s::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, input, sig)
                .is_ok()
        }
        ("ES256", Some("EC")) => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err(IdTokenError::Algorithm);
            }
            let mut point = vec![4u8];
            point.extend(key_bytes(jwk, "x")?);
            point.extend(key_bytes(jwk, "y")?);
            s::UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_FIXED, point)
                .verify(input, sig)
                .is_ok()
        }
        ("EdDSA", Some("OKP")) => {
            if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err(IdTokenError::Algorithm);
            }
            s::UnparsedPublicKey::new(&s::ED25519, key_bytes(jwk, "x")?)
                .verify(input, sig)
                .is_ok()
        }
        _ => return Err(IdTokenError::Algorithm),
    };
    if ok {
        Ok(())
    } else {
        Err(IdTokenError::Signature)
    }
}

/// The key in `jwks` for a token with key id `kid` and algorithm `alg`.
fn find_key<'a>(jwks: &'a Value, kid: Option<&str>, alg: &str) -> Result<&'a Value, IdTokenError> {
    let kty = match alg {
        "RS256" | "PS256" => "RSA",
        "ES256" => "EC",
        "EdDSA" => "OKP",
        _ => return Err(IdTokenError::Algorithm),
    };
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(IdTokenError::UnknownKey)?;
    let mut fitting = keys.iter().filter(|k| {
        k.get("kty").and_then(Value::as_str) == Some(kty)
            && k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
            && k.get("alg")
                .and_then(Value::as_str)
                .is_none_or(|a| a == alg)
    });
    match kid {
        Some(kid) => fitting
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
            .ok_or(IdTokenError::UnknownKey),
        None => {
            // Without a key id, only an unambiguous key will do.
            let first = fitting.next().ok_or(IdTokenError::UnknownKey)?;
            match fitting.next() {
                None => Ok(first),
                Some(_) => Err(IdTokenError::UnknownKey),
            }
        }
    }
}

/// Checks an ID token (OpenID Connect Core 1.0, 3.1.3.7) and gives its
/// claims: signed by a key in `jwks` with an accepted algorithm, issued
/// by `issuer` for `client_id`, not expired at `now` (unix seconds),
/// carrying `nonce`.
pub fn verify_id_token(
    token: &str,
    jwks: &Value,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<Map<String, Value>, IdTokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed);
    };
    let head: Value = serde_json::from_slice(&b64(header)?).map_err(|_| IdTokenError::Malformed)?;
    let alg = head
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(IdTokenError::Malformed)?;
    let kid = head.get("kid").and_then(Value::as_str);
    let key = find_key(jwks, kid, alg)?;
    let input = &token.as_bytes()[..header.len() + 1 + payload.len()];
    verify_signature(alg, key, input, &b64(sig)?)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&b64(payload)?).map_err(|_| IdTokenError::Malformed)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("iss") != Some(issuer) {
        return Err(IdTokenError::Claim("issuer"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(all)) => {
            all.iter().any(|a| a.as_str() == Some(client_id))
                && (all.len() == 1 || text("azp") == Some(client_id))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(IdTokenError::Claim("audience"));
    }
    if number("exp").is_none_or(|exp| exp + LEEWAY_SECS < now) {
        return Err(IdTokenError::Claim("expiry"));
    }
    if number("iat").is_some_and(|iat| iat > now + LEEWAY_SECS) {
        return Err(IdTokenError::Claim("issue time"));
    }
    if text("nonce") != Some(nonce) {
        return Err(IdTokenError::Claim("nonce"));
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(IdTokenError::Claim("subject"));
    }
    Ok(claims)
}

/// A claim as a list of strings: a JSON list, or one string (split on
/// commas and spaces).
fn strings(claims: &Map<String, Value>, name: &str) -> Option<Vec<String>> {
    match claims.get(name)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Value::String(s) => Some(
            s.split([',', ' '])
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

/// The Carechat account the claims describe, as the clinic's `[sso]`
/// table maps them.
pub fn identity(config: &Sso, claims: &Map<String, Value>) -> Result<SsoIdentity, SsoError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim);
    let (Some(iss), Some(sub)) = (text("iss"), text("sub")) else {
        return Err(SsoError::Provider(anyhow!(
            "the ID token has no issuer or subject"
        )));
    };
    let groups = strings(claims, &config.role_claim).unwrap_or_default();
    let has = |values: &[String]| groups.iter().any(|g| values.contains(g));
    let role = if has(&config.admin_values) {
        Role::Admin
    } else if has(&config.clinician_values) {
        Role::Clinician
    } else if has(&config.auditor_values) {
        Role::Auditor
    } else {
        return Err(SsoError::NoRole);
    };
    let username = text(&config.username_claim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            SsoError::Provider(anyhow!(
                "the provider gave no {} claim",
                config.username_claim
            ))
        })?;
    let display_name = text(&config.name_claim)
        .filter(|n| !n.is_empty())
        .unwrap_or(username);
    Ok(SsoIdentity {
        subject: format!("{iss} {sub}"),
        username: username.to_string(),
        display_name: display_name.to_string(),
        role,
        skills: config
            .skills_claim
            .as_ref()
            .map(|c| strings(claims, c).unwrap_or_default()),
        languages: config
            .languages_claim
            .as_ref()
            .and_then(|c| strings(claims, c))
            .filter(|l| !l.is_empty()),
    })
}

/// What the provider said went wrong, when it sent the browser back with
/// an error instead of a code (`access_denied` when the person cancelled).
pub fn provider_refused(error: &str) -> SsoError {
    // The code as the browser brought it back: anyone can write there, so
    // only an error code's characters reach the log.
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    SsoError::Provider(anyhow!("the provider answered {code}"))
}

#[cfg(test)]
mod tests;

//! Ephemeral mode's courier ([`service::Courier`]): each closed chat's
//! transcript (FHIR JSON) is POSTed to the clinic's HTTPS endpoint, signed
//! so the endpoint knows it came from its Carechat and was not replayed.
//!
//! - `Carechat-Signature: t=UNIX,v1=HEX`: HMAC-SHA256 under
//!   `retention.webhook_secret` of `UNIX.` followed by the body
//!   (docs/data.md has a receiver's check). The endpoint refuses a `t` far
//!   from its clock.
//! - `Idempotency-Key` is the conversation id: a retry after a lost answer
//!   repeats it.
//! - Any 2xx answer is a delivery; anything else, or no answer within 30 s,
//!   is retried by the service with a backoff, the chat kept sealed
//!   meanwhile.
//!
//! The log gets the status or the kind of failure, never the body.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::ConversationId;

/// The signature header's value for `body` sent at `unix` seconds.
pub fn signature(secret: &[u8], unix: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The clinic's endpoint.
pub struct Webhook {
    url: String,
    secret: Vec<u8>,
    agent: ureq::Agent,
}

impl Webhook {
    /// `ca`: a PEM file of the authorities to trust for the endpoint
    /// instead of the system's (a clinic's own CA).
    pub fn new(url: &str, secret: &str, ca: Option<&Path>) -> anyhow::Result<Webhook> {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .max_redirects(0);
        if let Some(ca) = ca {
            let pem = std::fs::read(ca)
                .with_context(|| format!("reading retention.webhook_ca {}", ca.display()))?;
            let mut roots = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                if let ureq::tls::PemItem::Certificate(c) =
                    item.context("retention.webhook_ca is not PEM")?
                {
                    roots.push(c);
                }
            }
            anyhow::ensure!(
                !roots.is_empty(),
                "retention.webhook_ca {} holds no certificate",
                ca.display()
            );
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        Ok(Webhook {
            url: url.to_string(),
            secret: secret.as_bytes().to_vec(),
            agent: config.build().into(),
        })
    }
}

#[async_trait]
impl service::Courier for Webhook {
    async fn deliver(&self, conversation: &ConversationId, body: Vec<u8>) -> Result<(), String> {
        let unix = store::Timestamp::now().unix();
        let signed = signature(&self.secret, unix, &body);
        let (agent, url, id) = (
            self.agent.clone(),
            self.url.clone(),
            conversation.as_str().to_string(),
        );
        tokio::task::spawn_blocking(move || {
            let response = agent
                .post(&url)
                .header("Content-Type", "application/fhir+json")
                .header("Carechat-Signature", &signed)
                .header("Idempotency-Key", &id)
                .send(&body[..])
                .map_err(|e| format!("no answer: {}", failure_kind(&e)))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("the endpoint answered {status}"))
            }
        })
        .await
        .map_err(|e| format!("the delivery task failed: {e}"))?
    }
}

/// What went wrong, in words with no URL, header or body in them.
fn failure_kind(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "timed out",
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed => "connection failed",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failed",
        _ => "request failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Checked against ring's HMAC, a separate implementation.
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe");
        let want = hex::encode(ring::hmac::sign(&key, b"1765000000.{\"a\":1}").as_ref());
        let s = signature(b"Jefe", 1_765_000_000, br#"{"a":1}"#);
        assert_eq!(s, format!("t=1765000000,v1={want}"));
        assert_ne!(s, signature(b"Jefe", 1_765_000_001, br#"{"a":1}"#));
        assert_ne!(s, signature(b"jefe", 1_765_000_000, br#"{"a":1}"#));
    }
}

//! The server's side of notifications ([`service::notify::Notifier`]):
//! email over SMTP (lettre: STARTTLS, implicit TLS, or plain to a relay on
//! this machine), and text messages through an SMS provider's HTTP API
//! (a Twilio-compatible form POST: `To`, `From`, `Body`, HTTP basic auth,
//! the URL configurable).
//!
//! What to send and to whom is the service's; nothing here logs an
//! address, a number or a body.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Notify, Security, SmsConfig, Smtp};

/// Email through the clinic's SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(c: &Smtp) -> anyhow::Result<Mailer> {
        let from: Mailbox = c
            .from
            .parse()
            .context("notify.smtp.from is not an address (\"Clinic <chat@clinic.example>\")")?;
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut b = TlsParameters::builder(c.host.clone());
            if let Some(ca) = &c.ca_file {
                for cert in certificates(ca)? {
                    b = b.add_root_certificate(cert);
                }
            }
            b.build_rustls().context("setting up TLS for notify.smtp")
        };
        let (tls, port) = match c.security {
            Security::Starttls => (Tls::Required(tls()?), 587),
            Security::Tls => (Tls::Wrapper(tls()?), 465),
            Security::None => (Tls::None, 25),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port.unwrap_or(port))
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|_| "not an email address".to_string())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| format!("building the email: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            // lettre's errors name the server's answer, never the message.
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// The PEM file's certificates (a clinic's own authority).
fn certificates(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("reading notify.smtp.ca_file {}", path.display()))?;
    let text = String::from_utf8_lossy(&pem);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    while let Some(start) = rest.find(BEGIN) {
        let end = rest[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .context("notify.smtp.ca_file: a certificate does not end")?;
        out.push(
            Certificate::from_pem(&rest.as_bytes()[start..end])
                .context("notify.smtp.ca_file holds a bad certificate")?,
        );
        rest = &rest[end..];
    }
    anyhow::ensure!(
        !out.is_empty(),
        "notify.smtp.ca_file {} holds no certificate",
        path.display()
    );
    Ok(out)
}

/// Text messages through the provider's HTTP API.
pub struct Texter {
    url: String,
    username: String,
    password: String,
    from: String,
    agent: ureq::Agent,
}

impl Texter {
    pub fn new(c: &SmsConfig) -> anyhow::Result<Texter> {
        anyhow::ensure!(
            crate::config::secure_or_loopback(&c.url),
            "notify.sms.url must be https:// (plain http only to this machine)"
        );
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .max_redirects(0);
        Ok(Texter {
            url: c.url.clone(),
            username: c.username.clone(),
            password: c.password.clone().unwrap_or_default(),
            from: c.from.clone(),
            agent: config.build().into(),
        })
    }

    fn send_blocking(&self, to: &str, body: &str) -> Result<(), String> {
        let auth = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", self.username, self.password),
        );
        let answer = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Basic {auth}"))
            .send_form([("To", to), ("From", self.from.as_str()), ("Body", body)])
            .map_err(|e| format!("SMS provider: {e}"))?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("SMS provider answered {status}"))
        }
    }
}

/// Both, as configured.
pub struct Messenger {
    mail: Option<Mailer>,
    sms: Option<std::sync::Arc<Texter>>,
}

impl Messenger {
    pub fn new(c: &Notify) -> anyhow::Result<Messenger> {
        Ok(Messenger {
            mail: c.smtp.as_ref().map(Mailer::new).transpose()?,
            sms: c
                .sms
                .as_ref()
                .map(|s| Texter::new(s).map(std::sync::Arc::new))
                .transpose()?,
        })
    }
}

#[async_trait]
impl service::notify::Notifier for Messenger {
    fn can_email(&self) -> bool {
        self.mail.is_some()
    }

    fn can_sms(&self) -> bool {
        self.sms.is_some()
    }

    async fn email(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        match &self.mail {
            Some(m) => m.send(to, subject, body).await,
            None => Err("email is not set up".into()),
        }
    }

    async fn sms(&self, to: &str, body: &str) -> Result<(), String> {
        let Some(texter) = self.sms.clone() else {
            return Err("text messages are not set up".into());
        };
        let (to, body) = (to.to_string(), body.to_string());
        tokio::task::spawn_blocking(move || texter.send_blocking(&to, &body))
            .await
            .map_err(|_| "the SMS task failed".to_string())?
    }
}

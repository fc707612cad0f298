//! Configuration in layers: defaults < TOML file < `CARECHAT_*` environment <
//! command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the server listens on.
    pub listen: SocketAddr,
    /// The database: a SQLite file (or `sqlite:` URL), or a `postgres://` URL.
    pub db: String,
    /// Where model directories live.
    pub models_dir: PathBuf,
    /// The sentence encoder, a directory under `models_dir` (or its
    /// `carechat models pull` name): `all-MiniLM-L6-v2` (English, the
    /// default) or `multilingual-e5-small` (alias `multilingual`), or a
    /// model directory of its own there, such as `carechat train encoder`
    /// writes.
    pub model: String,
    /// The intent whitelist; the defaults built into the binary when absent.
    pub intents_dir: PathBuf,
    /// Lowest intent score the bot answers on; absent, it is calibrated at
    /// start-up on the whitelist's held-out phrasings.
    pub threshold: Option<f32>,
    /// How far the best intent must lead the next one for the bot to answer.
    pub margin: f32,
    /// The trained head's share of an intent's score (0 to 1), the rest
    /// being the nearest-neighbour similarity's (docs/bot.md).
    pub head_weight: f32,
    /// The lexical head's share of the trained part of the score (0 to 1;
    /// docs/bot.md).
    pub lexical_weight: f32,
    /// The lowest score at which the emergency intent, ranked first by the
    /// model (no trigger fired), makes a chat urgent (docs/bot.md).
    pub urgent_threshold: f32,
    /// Whether the red-flag model decides emergencies beside the trigger
    /// phrases (on by default: docs/bot.md, "Emergencies first").
    pub red_flag_model: bool,
    /// Whether half the whitelist's out-of-scope questions are learned as a
    /// class of their own, so that questions like them are never answered
    /// (docs/bot.md); the other half calibrates the threshold.
    pub reject_out_of_scope: bool,
    /// Whether the intent model is trained again on the calibration
    /// phrasings once the threshold is set (docs/bot.md).
    pub refit: bool,
    /// Requests waiting for the encoder before new ones are told "busy".
    pub encoder_queue: usize,
    /// Whether redaction runs the PII model (`pii-ner`) as well as the
    /// rules. On by default; off, redaction is rules only.
    pub redaction_model: bool,
    /// The PII model's decision threshold: the lowest entity-label
    /// probability that redacts a word.
    pub redaction_threshold: f32,
    /// Whether the models' linear layers run on 11-bit integers where the
    /// CPU has AVX-512 VNNI (faster, same answers within rounding: see
    /// docs/redaction.md); false runs f32 everywhere.
    pub integer_products: bool,
    /// The server's key (created on first start): browser ids and IP
    /// addresses are hashed under it before they are stored, and the audit
    /// trail is sealed under a key derived from it. Absent: `<db>.key`
    /// beside the database file; a fresh key per run for an in-memory
    /// database. Back it up apart from the database (docs/security.md).
    pub key_file: Option<PathBuf>,
    /// The master keys that wrap the conversations' data keys (64 hex
    /// digits each, oldest first): best set as `CARECHAT_MASTER_KEY`.
    /// docs/data.md says how the sources compare.
    pub master_key: Option<crate::master::KeyText>,
    /// A command that prints the master keys (a KMS, HSM or vault CLI).
    pub master_key_command: Option<String>,
    /// The file of master keys; absent: `<db>.master.key`, created on first
    /// start. Back it up apart from the database.
    pub master_key_file: Option<PathBuf>,
    /// Reverse proxies (TLS terminators) in front of the server, whose
    /// `X-Forwarded-For` header names the real client. Without them, every
    /// patient behind the proxy has the proxy's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// TLS built in: the certificate chain, a PEM file (the server's
    /// certificate first). Given with `tls_key`, the server speaks only
    /// HTTPS, and both files are read again when they change.
    pub tls_cert: Option<PathBuf>,
    /// TLS built in: the private key, a PEM file.
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates TLS: the session cookie is then
    /// `Secure` and `__Host-` and HSTS is sent, as with TLS built in.
    pub tls_at_proxy: bool,
    /// The clinic's own web domains (`example-clinic.com`; subdomains
    /// included): links to them do not count towards a message's spam score.
    pub trusted_domains: Vec<String>,
    /// How escalated chats reach clinicians.
    pub routing: Routing,
    /// How long a client may take to send a request's headers, and how long
    /// an idle connection stays open, in seconds.
    pub header_timeout_secs: u64,
    /// How long staff sessions last.
    pub sessions: Sessions,
    /// Two-factor sign-in.
    pub mfa: Mfa,
    /// Single sign-on through the clinic's identity provider (OpenID
    /// Connect); absent, staff sign in with passwords only.
    pub sso: Option<Sso>,
    /// How fast patients may connect, start chats and write.
    pub limits: Limits,
    /// How long conversations are kept.
    pub retention: RetentionConfig,
    /// A bearer token that lets a scraper on another machine read
    /// `/metrics` (the machine itself always may).
    pub metrics_token: Option<String>,
    /// The workbench's evaluation gate: how far wrong answers or answered
    /// out-of-scope questions may rise (a share) before a new whitelist
    /// version is refused.
    pub gate_tolerance: f64,
    /// The clinic's name and phone number, which fill `{clinic}` and
    /// `{phone}` in clinicians' canned replies (`[clinic]`).
    pub clinic: service::canned::ClinicInfo,
    /// Whether staff may copy text out of the console's chat view (false:
    /// selecting, copying and the context menu are turned off there).
    pub console_copy: bool,
    /// Translation model directories (OPUS-MT, `docs/routing.md`); every
    /// directory under `<models_dir>/translate/` is loaded as well.
    pub translation_models: Vec<PathBuf>,
    /// Email and text messages (docs/notify.md).
    pub notify: Notify,
    /// The intake questions asked before the chat (`[intake] fields`:
    /// any of `name`, `date_of_birth`, `reason`, `callback`; none by
    /// default).
    pub intake: Intake,
    /// Photos and PDFs both ways (`[files]`, docs/files.md).
    pub files: Files,
}

/// The `[files]` table: photos and PDFs shared in a chat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Files {
    /// False: no file is taken, and the widget offers none.
    pub enabled: bool,
    /// The largest file taken, in megabytes.
    pub max_mb: u64,
    /// The largest image taken, in megapixels (decoding a bigger one
    /// would take too much memory).
    pub max_megapixels: u64,
    /// Whether every file is scanned for viruses first. True: a file is
    /// refused, saying why, whenever clamd cannot be reached. False: the
    /// clinic takes files unscanned (recorded on each).
    pub scan: bool,
    /// Where clamd listens: a Unix socket's path, or `tcp://host:port`.
    pub clamd: String,
}

impl Default for Files {
    fn default() -> Files {
        Files {
            enabled: true,
            max_mb: 10,
            max_megapixels: 40,
            scan: true,
            clamd: "/var/run/clamav/clamd.ctl".into(),
        }
    }
}

impl Files {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=50).contains(&self.max_mb),
            "configuration: files.max_mb must be 1 to 50 (clamd streams 25 MB at most by default)"
        );
        anyhow::ensure!(
            (1..=200).contains(&self.max_megapixels),
            "configuration: files.max_megapixels must be 1 to 200"
        );
        if self.scan {
            crate::clamd::Clamd::parse(&self.clamd)?;
        }
        Ok(())
    }

    /// The service's side, with its scanner.
    pub fn service(&self) -> anyhow::Result<service::files::FileSharing> {
        let scanner: Option<std::sync::Arc<dyn service::files::Scanner>> = if self.scan {
            Some(std::sync::Arc::new(crate::clamd::Clamd::parse(
                &self.clamd,
            )?))
        } else {
            None
        };
        Ok(service::files::FileSharing {
            enabled: self.enabled,
            limits: service::files::Limits {
                max_bytes: (self.max_mb * 1024 * 1024) as usize,
                max_pixels: self.max_megapixels * 1_000_000,
            },
            scanner,
        })
    }
}

/// The `[intake]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Intake {
    pub fields: Vec<String>,
}

/// `localhost`, `127.0.0.0/8` or `::1`.
pub fn loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `[notify]` table: telling staff and patients outside the console
/// (docs/notify.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Notify {
    /// How staff and patients reach this server, for the links sent
    /// (`https://chat.clinic.example`). Needed once email or SMS is set up.
    pub public_url: Option<String>,
    /// A staff member gets at most one email about waiting chats this
    /// often (minutes).
    pub email_every_minutes: u64,
    /// Numbers told by text message when a chat is urgent (E.164,
    /// `+15550102030`).
    pub on_call: Vec<String>,
    pub smtp: Option<Smtp>,
    pub sms: Option<SmsConfig>,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            public_url: None,
            email_every_minutes: 5,
            on_call: Vec::new(),
            smtp: None,
            sms: None,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Upgrade with STARTTLS, required (port 587 by default).
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// Plain: only to a relay on this machine (port 25 by default).
    None,
}

/// `[notify.smtp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "starttls")]
    pub security: Security,
    pub username: Option<String>,
    /// `CARECHAT_NOTIFY__SMTP__PASSWORD` keeps it out of the file.
    pub password: Option<String>,
    /// The sender, `Clinic <chat@clinic.example>`.
    pub from: String,
    /// A PEM file of authorities trusted for the server besides the
    /// system's (a clinic's own CA).
    pub ca_file: Option<PathBuf>,
}

fn starttls() -> Security {
    Security::Starttls
}

/// `[notify.sms]`: a Twilio-compatible API (a form POST of `To`, `From`,
/// `Body` with HTTP basic auth).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// e.g. `https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json`.
    pub url: String,
    /// The account id (basic auth's user).
    pub username: String,
    /// The auth token; `CARECHAT_NOTIFY__SMS__PASSWORD` keeps it out of
    /// the file.
    pub password: Option<String>,
    /// The number messages come from.
    pub from: String,
}

impl Notify {
    fn check(&self) -> anyhow::Result<()> {
        if self.smtp.is_none() && self.sms.is_none() {
            return Ok(());
        }
        let url = self.public_url.as_deref().unwrap_or("");
        anyhow::ensure!(
            secure_or_loopback(url),
            "configuration: notify.public_url (https://, how staff and patients reach this \
             server) is needed for the links email and text messages carry"
        );
        anyhow::ensure!(
            self.email_every_minutes >= 1,
            "configuration: notify.email_every_minutes must be at least 1"
        );
        if let Some(smtp) = &self.smtp {
            anyhow::ensure!(
                smtp.security != Security::None || loopback_host(&smtp.host),
                "configuration: notify.smtp.security = \"none\" sends mail in the clear: only to a \
                 relay on this machine (localhost)"
            );
        }
        if !self.on_call.is_empty() {
            anyhow::ensure!(
                self.sms.is_some(),
                "configuration: notify.on_call is told by text message: set up notify.sms"
            );
        }
        for n in &self.on_call {
            anyhow::ensure!(
                service::contact::valid_phone(n),
                "configuration: notify.on_call holds something that is not a phone number"
            );
        }
        Ok(())
    }

    /// What the service is given, when anything is set up.
    pub fn service(&self) -> anyhow::Result<Option<service::notify::Notifications>> {
        if self.smtp.is_none() && self.sms.is_none() {
            return Ok(None);
        }
        Ok(Some(service::notify::Notifications {
            notifier: std::sync::Arc::new(crate::notify::Messenger::new(self)?),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            email_every_ms: self.email_every_minutes * 60_000,
            on_call: self.on_call.clone(),
        }))
    }
}

/// The `[limits]` table: the patient side's rate limits, per address (its
/// keyed hash) and per conversation. An emergency is never refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Sockets one address may open in a minute.
    pub sockets_per_minute: u32,
    /// New chats one address may open at once; then one every
    /// `600 / new_chats_per_address` seconds.
    pub new_chats_per_address: u32,
    /// Messages one conversation may send at once; then one every
    /// `30 / messages_per_conversation` seconds.
    pub messages_per_conversation: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sockets_per_minute: service::limits::SOCKETS_PER_ADDRESS.burst,
            new_chats_per_address: service::limits::NEW_CHATS_PER_ADDRESS.burst,
            messages_per_conversation: service::limits::MESSAGES_PER_CONVERSATION.burst,
        }
    }
}

impl Limits {
    /// The service's limits for this configuration (each at least 1).
    pub fn patient(&self) -> service::limits::PatientLimits {
        use service::limits::{
            MESSAGES_PER_CONVERSATION, NEW_CHATS_PER_ADDRESS, Rate, SOCKETS_PER_ADDRESS,
        };
        let rate = |burst: u32, default: Rate| Rate {
            burst: burst.max(1),
            per_ms: default.per_ms,
        };
        service::limits::PatientLimits::new(
            rate(self.sockets_per_minute, SOCKETS_PER_ADDRESS),
            rate(self.new_chats_per_address, NEW_CHATS_PER_ADDRESS),
            rate(self.messages_per_conversation, MESSAGES_PER_CONVERSATION),
        )
    }
}

/// The `[mfa]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Mfa {
    /// Roles that cannot sign in without a second factor (`admin`,
    /// `clinician`, `auditor`).
    pub required_roles: Vec<store::Role>,
}

impl Default for Mfa {
    fn default() -> Self {
        Mfa {
            required_roles: vec![store::Role::Admin],
        }
    }
}

/// The `[retention]` table (docs/data.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Closed conversations untouched this many days are deleted for good
    /// (their data keys destroyed); absent, they are kept.
    pub days: Option<u32>,
    /// A chat left with the bot and untouched this many minutes is closed;
    /// 0 leaves them open.
    pub bot_idle_minutes: u64,
    /// Ephemeral mode (`days = 0`): each closed chat's transcript is POSTed
    /// here (HTTPS), then the chat is deleted.
    pub webhook_url: Option<String>,
    /// The key the webhook's HMAC-SHA256 signature is made with, 32
    /// characters or more (`CARECHAT_RETENTION__WEBHOOK_SECRET` keeps it
    /// out of the file).
    pub webhook_secret: Option<String>,
    /// A PEM file of the authorities trusted for the endpoint instead of
    /// the system's (a clinic's own CA).
    pub webhook_ca: Option<PathBuf>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            days: None,
            bot_idle_minutes: 120,
            webhook_url: None,
            webhook_secret: None,
            webhook_ca: None,
        }
    }
}

impl RetentionConfig {
    fn check(&self) -> anyhow::Result<()> {
        let ephemeral = self.days == Some(0);
        anyhow::ensure!(
            ephemeral == self.webhook_url.is_some(),
            "configuration: retention.days = 0 (ephemeral chats) and retention.webhook_url go \
             together: each closed chat's transcript is pushed there before it is deleted"
        );
        if let Some(url) = &self.webhook_url {
            anyhow::ensure!(
                url.starts_with("https://"),
                "configuration: retention.webhook_url must be https://"
            );
            anyhow::ensure!(
                self.webhook_secret
                    .as_ref()
                    .is_some_and(|s| s.chars().count() >= 32),
                "configuration: retention.webhook_secret (32 characters or more) signs what \
                 goes to retention.webhook_url"
            );
        }
        Ok(())
    }

    /// Ephemeral mode's courier, when it is on.
    pub fn courier(&self) -> anyhow::Result<Option<crate::webhook::Webhook>> {
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(url), Some(secret)) => Ok(Some(crate::webhook::Webhook::new(
                url,
                secret,
                self.webhook_ca.as_deref(),
            )?)),
            _ => Ok(None),
        }
    }

    pub fn service(&self) -> service::retention::Retention {
        service::retention::Retention {
            days: self.days,
            bot_idle_secs: (self.bot_idle_minutes > 0).then_some(self.bot_idle_minutes * 60),
        }
    }
}

/// The `[sso]` table: signing in through the clinic's identity provider
/// with OpenID Connect (authorization code with PKCE; docs/security.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Sso {
    /// The provider's issuer URL, as its discovery document names it
    /// (`https://login.example.org/realms/clinic`). HTTPS, except on the
    /// loopback address.
    pub issuer: String,
    /// Carechat's client id at the provider.
    pub client_id: String,
    /// The client secret, when the provider gave one (better set as
    /// `CARECHAT_SSO__CLIENT_SECRET` than written in the file); without
    /// one Carechat is a public client and PKCE alone protects the code.
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back: this server's
    /// `/api/sso/callback` as browsers reach it
    /// (`https://chat.example.org/api/sso/callback`), registered at the
    /// provider.
    pub redirect_url: String,
    /// The scopes asked for; `openid` is always among them.
    pub scopes: Vec<String>,
    /// The claim that becomes the username.
    pub username_claim: String,
    /// The claim that becomes the display name.
    pub name_claim: String,
    /// The claim listing the person's groups or roles (a string or a list).
    pub role_claim: String,
    /// Values of `role_claim` that make an admin, a clinician, an auditor;
    /// the first that matches in that order wins. Someone with none of
    /// them cannot sign in.
    pub admin_values: Vec<String>,
    pub clinician_values: Vec<String>,
    pub auditor_values: Vec<String>,
    /// The claim listing a clinician's skills; absent, skills are set by
    /// an admin in Carechat.
    pub skills_claim: Option<String>,
    /// The claim listing the languages a clinician speaks.
    pub languages_claim: Option<String>,
    /// Single sign-on only: password sign-in is refused (`sso_only`).
    /// Staff accounts are still managed with `carechat user`, which can
    /// give an admin a password back if the provider is down (after this
    /// is turned off).
    pub only: bool,
}

impl Default for Sso {
    fn default() -> Self {
        Sso {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            redirect_url: String::new(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            username_claim: "preferred_username".into(),
            name_claim: "name".into(),
            role_claim: "groups".into(),
            admin_values: vec!["carechat-admin".into()],
            clinician_values: vec!["carechat-clinician".into()],
            auditor_values: vec!["carechat-auditor".into()],
            skills_claim: None,
            languages_claim: None,
            only: false,
        }
    }
}

/// `file` with `suffix` added to its name (`carechat.db` → `carechat.db.key`).
pub fn beside(file: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether `url` is `https:`, or `http:` to the loopback address (a
/// provider on the same machine, and the tests').
pub fn secure_or_loopback(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    loopback_host(host)
}

impl Sso {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.issuer.is_empty() && !self.client_id.is_empty(),
            "configuration: sso needs issuer and client_id"
        );
        anyhow::ensure!(
            secure_or_loopback(&self.issuer),
            "configuration: sso.issuer must be an https:// URL (http:// only on the loopback address)"
        );
        anyhow::ensure!(
            secure_or_loopback(&self.redirect_url)
                && self.redirect_url.ends_with("/api/sso/callback"),
            "configuration: sso.redirect_url must be this server's https://.../api/sso/callback"
        );
        Ok(())
    }
}

/// The `[sessions]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Sessions {
    /// A session with no request from its person for this long ends (the
    /// console counts typing and clicking, not an open window).
    pub idle_minutes: u64,
    /// However busy, a session ends this long after its login.
    pub lifetime_hours: u64,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            idle_minutes: 15,
            lifetime_hours: 12,
        }
    }
}

impl Sessions {
    pub fn idle_secs(&self) -> i64 {
        (self.idle_minutes.max(1) * 60) as i64
    }

    pub fn lifetime_secs(&self) -> i64 {
        (self.lifetime_hours.max(1) * 3600) as i64
    }
}

/// The `[routing]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Routing {
    /// Offer a chat to the best clinician for this many seconds before it
    /// moves on to the next; 0 assigns at once.
    pub offer_timeout_secs: u64,
    /// Skill groups that stand in for a skill when nobody with it is
    /// available: `billing = ["front_desk"]` (merged key by key with the
    /// default; `billing = []` turns one off).
    pub fallback: std::collections::BTreeMap<String, Vec<String>>,
    /// How long a chat waits for its own skill before the fallback group may
    /// take it (its clinician may be back from a break in a minute); 0: at
    /// once whenever nobody with the skill is available.
    pub fallback_wait_secs: u64,
    /// When nobody online could serve a chat, even after the fallback, the
    /// patient leaves a message for staff instead of waiting in the queue.
    pub offline_form: bool,
    /// ... and also once a chat has waited this long (0: never for waiting
    /// alone).
    pub offline_after_secs: u64,
}

impl Default for Routing {
    fn default() -> Self {
        let front_desk = || vec!["front_desk".to_string()];
        Routing {
            offer_timeout_secs: 0,
            // The front desk can start on a bill or a records request; a
            // nursing or dental question needs its own skill.
            fallback: [
                ("billing".to_string(), front_desk()),
                ("records".to_string(), front_desk()),
            ]
            .into_iter()
            .collect(),
            fallback_wait_secs: 60,
            offline_form: true,
            offline_after_secs: 0,
        }
    }
}

impl Routing {
    /// The router's policy for this configuration.
    pub fn policy(&self) -> router::Policy {
        let mut policy = router::Policy::default();
        if self.offer_timeout_secs > 0 {
            policy = policy.with_offer_timeout_ms(self.offer_timeout_secs * 1000);
        }
        for (skill, fallbacks) in &self.fallback {
            policy = policy.with_fallback(skill.clone(), fallbacks.clone());
        }
        if self.fallback_wait_secs > 0 {
            policy = policy.with_fallback_after_ms(self.fallback_wait_secs * 1000);
            policy.fallback_when_unavailable = false;
        }
        if self.offline_form {
            policy = policy.with_offline_form(
                (self.offline_after_secs > 0).then_some(self.offline_after_secs * 1000),
            );
        }
        policy
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("default address"),
            db: "carechat.db".into(),
            models_dir: "models".into(),
            model: model_pull::DEFAULT_MODEL.into(),
            intents_dir: "intents".into(),
            threshold: bot_engine::BotConfig::default().threshold,
            margin: bot_engine::BotConfig::default().margin,
            head_weight: bot_engine::DEFAULT_HEAD_WEIGHT,
            lexical_weight: bot_engine::DEFAULT_LEXICAL_WEIGHT,
            urgent_threshold: bot_engine::DEFAULT_URGENT_THRESHOLD,
            red_flag_model: bot_engine::BotConfig::default().red_flag_model,
            reject_out_of_scope: bot_engine::BotConfig::default().reject_out_of_scope,
            refit: bot_engine::BotConfig::default().refit,
            encoder_queue: 256,
            redaction_model: true,
            redaction_threshold: redaction::model::DEFAULT_THRESHOLD,
            integer_products: true,
            key_file: None,
            master_key: None,
            master_key_command: None,
            master_key_file: None,
            trusted_proxies: Vec::new(),
            tls_cert: None,
            tls_key: None,
            tls_at_proxy: false,
            trusted_domains: Vec::new(),
            routing: Routing::default(),
            header_timeout_secs: 10,
            sessions: Sessions::default(),
            mfa: Mfa::default(),
            sso: None,
            limits: Limits::default(),
            retention: RetentionConfig::default(),
            metrics_token: None,
            gate_tolerance: service::workbench::DEFAULT_TOLERANCE,
            clinic: service::canned::ClinicInfo::default(),
            console_copy: true,
            translation_models: Vec::new(),
            notify: Notify::default(),
            intake: Intake::default(),
            files: Files::default(),
        }
    }
}

/// Flags that override everything else when given.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intents_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl Config {
    /// Where the identity key lives, or `None` for an in-memory database.
    pub fn key_path(&self) -> Option<PathBuf> {
        if let Some(path) = &self.key_file {
            return Some(path.clone());
        }
        self.db_file().map(|file| beside(&file, ".key"))
    }

    /// Where the Web Push (VAPID) key lives: beside a SQLite database, or
    /// beside the server key on PostgreSQL (every node has a copy of both);
    /// `None` for an in-memory database (a new key each start).
    pub fn vapid_key_path(&self) -> Option<PathBuf> {
        match (self.db_file(), &self.key_file) {
            (Some(file), _) => Some(beside(&file, ".vapid.key")),
            (None, Some(key)) if self.postgres() => Some(beside(key, ".vapid")),
            (None, _) => None,
        }
    }

    /// Whether the database is PostgreSQL (a `postgres://` URL).
    pub fn postgres(&self) -> bool {
        store::Engine::of(&self.db) == store::Engine::Postgres
    }

    /// Who push services are told runs this server (VAPID's `sub`): the
    /// public address when set, else a placeholder contact.
    pub fn push_subject(&self) -> String {
        match self.notify.public_url.as_deref().map(str::trim) {
            Some(url) if url.starts_with("https://") => url.trim_end_matches('/').to_string(),
            _ => "mailto:webpush@carechat.invalid".into(),
        }
    }

    /// The database's file, or `None` for an in-memory database or
    /// PostgreSQL.
    pub fn db_file(&self) -> Option<PathBuf> {
        if self.db.contains(":memory:") || self.postgres() {
            return None;
        }
        let file = self
            .db
            .strip_prefix("sqlite://")
            .or_else(|| self.db.strip_prefix("sqlite:"))
            .unwrap_or(&self.db);
        let file = file.split('?').next().unwrap_or(file);
        Some(PathBuf::from(file))
    }

    /// `file` is read when given (it must exist then), else `carechat.toml`
    /// when present in the working directory.
    /// Whether browsers reach the server over HTTPS (built in or at a
    /// proxy).
    pub fn https(&self) -> bool {
        self.tls_at_proxy || self.tls_cert.is_some()
    }

    /// How the models multiply, from `integer_products`.
    pub fn products(&self) -> bert::Products {
        if self.integer_products {
            bert::Products::Integer
        } else {
            bert::Products::Float
        }
    }

    pub fn load(file: Option<&PathBuf>, overrides: &Overrides) -> anyhow::Result<Config> {
        let (config, unknown) = Self::load_checked(file, overrides)?;
        for key in unknown {
            tracing::warn!(key, "unknown configuration key ignored");
        }
        Ok(config)
    }

    /// The configuration, and the keys it was given that mean nothing to it
    /// (a typo in the file, or another program's `CARECHAT_*` variable).
    fn load_checked(
        file: Option<&PathBuf>,
        overrides: &Overrides,
    ) -> anyhow::Result<(Config, Vec<String>)> {
        // The layers above the defaults, on their own: which keys were given
        // decides which model-dependent defaults apply.
        let mut given = Figment::new();
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                given = given.merge(Toml::file(path));
            }
            None => given = given.merge(Toml::file("carechat.toml")),
        }
        // CARECHAT_LOG and CARECHAT_CONFIG steer logging and the file
        // choice, not the configuration itself.
        let given = given
            .merge(
                Env::prefixed("CARECHAT_")
                    .ignore(&["log", "config"])
                    .split("__"),
            )
            .merge(Serialized::defaults(overrides));
        let given_keys = given
            .extract::<figment::value::Dict>()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        let known = serde_json::to_value(Config::default())?;
        let unknown = given_keys
            .keys()
            .filter(|k| known.get(k.as_str()).is_none())
            .cloned()
            .collect();
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(given)
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        // An unset margin is the one measured for the configured model
        // (docs/bot.md); an unset threshold is calibrated at start-up.
        if let Some(margin) = model_pull::spec(&config.model)
            .ok()
            .and_then(|s| s.bot_margin)
            && !given_keys.contains_key("margin")
        {
            config.margin = margin;
        }
        anyhow::ensure!(
            config.threshold.is_none_or(|t| (0.0..=1.0).contains(&t)),
            "configuration: threshold must be between 0 and 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&config.head_weight),
            "configuration: head_weight must be between 0 and 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&config.lexical_weight),
            "configuration: lexical_weight must be between 0 and 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&config.urgent_threshold),
            "configuration: urgent_threshold must be between 0 and 1"
        );
        anyhow::ensure!(
            config.redaction_threshold > 0.0 && config.redaction_threshold < 1.0,
            "configuration: redaction_threshold must be between 0 and 1 (exclusive)"
        );
        if let Some(sso) = &config.sso {
            sso.check()?;
        }
        config.retention.check()?;
        config.notify.check()?;
        config.files.check()?;
        service::intake::fields(&config.intake.fields)
            .map_err(|e| anyhow::anyhow!("configuration: intake.fields: {e}"))?;
        let privacy = config.clinic.privacy_url.trim();
        anyhow::ensure!(
            privacy.is_empty() || privacy.starts_with("https://") || privacy.starts_with("http://"),
            "configuration: clinic.privacy_url must be an http(s) address"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&config.gate_tolerance),
            "configuration: gate_tolerance must be between 0 and 1"
        );
        anyhow::ensure!(
            config.tls_cert.is_some() == config.tls_key.is_some(),
            "configuration: tls_cert and tls_key go together"
        );
        anyhow::ensure!(
            config.encoder_queue > 0,
            "configuration: encoder_queue must be positive"
        );
        Ok((config, unknown))
    }
}

#[cfg(test)]
// figment's Jail hands its own large error type to the closures.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_file_env_and_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "db = \"from-file.db\"\nthreshold = 0.5\nlisten = \"127.0.0.1:9000\"",
            )?;
            jail.set_env("CARECHAT_DB", "from-env.db");
            jail.set_env("CARECHAT_LOG", "debug");
            let file = PathBuf::from("c.toml");
            let c = Config::load(Some(&file), &Overrides::default()).unwrap();
            assert_eq!(c.db, "from-env.db");
            assert_eq!(c.threshold, Some(0.5));
            assert_eq!(c.listen.port(), 9000);
            let flags = Overrides {
                db: Some("from-flag.db".into()),
                ..Default::default()
            };
            assert_eq!(
                Config::load(Some(&file), &flags).unwrap().db,
                "from-flag.db"
            );
            Ok(())
        });
    }

    #[test]
    fn reports_unknown_keys_and_rejects_bad_values() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "tresh = 0.5")?;
            jail.set_env("CARECHAT_SCREENSHOTS", "/tmp");
            let (c, mut unknown) =
                Config::load_checked(Some(&PathBuf::from("c.toml")), &Overrides::default())
                    .unwrap();
            unknown.sort();
            assert_eq!(unknown, ["screenshots", "tresh"]);
            assert_eq!(c.threshold, Config::default().threshold);
            jail.create_file("d.toml", "threshold = 2.0")?;
            assert!(Config::load(Some(&PathBuf::from("d.toml")), &Overrides::default()).is_err());
            jail.create_file("e.toml", "head_weight = 1.5")?;
            assert!(Config::load(Some(&PathBuf::from("e.toml")), &Overrides::default()).is_err());
            jail.create_file("f.toml", "head_weight = 0.3")?;
            let c = Config::load(Some(&PathBuf::from("f.toml")), &Overrides::default()).unwrap();
            assert_eq!(c.head_weight, 0.3);
            jail.create_file("g.toml", "lexical_weight = -0.1")?;
            assert!(Config::load(Some(&PathBuf::from("g.toml")), &Overrides::default()).is_err());
            jail.create_file("h.toml", "lexical_weight = 0.6\nrefit = false")?;
            let c = Config::load(Some(&PathBuf::from("h.toml")), &Overrides::default()).unwrap();
            assert_eq!((c.lexical_weight, c.refit), (0.6, false));
            assert!(
                Config::load(Some(&PathBuf::from("missing.toml")), &Overrides::default()).is_err()
            );
            Ok(())
        });
    }

    #[test]
    fn ephemeral_mode_needs_a_signed_https_endpoint() {
        figment::Jail::expect_with(|jail| {
            let load = |body: &str| -> anyhow::Result<Config> {
                std::fs::write("r.toml", body).unwrap();
                Config::load(Some(&PathBuf::from("r.toml")), &Overrides::default())
            };
            let secret = "s".repeat(32);
            let err = |body: &str| load(body).unwrap_err().to_string();
            assert!(err("[retention]\ndays = 0").contains("webhook_url"));
            assert!(
                err("[retention]\ndays = 3\nwebhook_url = \"https://ehr.example/in\"")
                    .contains("go together")
            );
            assert!(
                err(&format!(
                    "[retention]\ndays = 0\nwebhook_url = \"http://ehr.example/in\"\n\
                     webhook_secret = \"{secret}\""
                ))
                .contains("https")
            );
            assert!(
                err(
                    "[retention]\ndays = 0\nwebhook_url = \"https://ehr.example/in\"\n\
                     webhook_secret = \"short\""
                )
                .contains("32 characters")
            );
            jail.create_file(
                "r.toml",
                "[retention]\ndays = 0\nwebhook_url = \"https://ehr.example/in\"",
            )?;
            jail.set_env("CARECHAT_RETENTION__WEBHOOK_SECRET", &secret);
            let c = Config::load(Some(&PathBuf::from("r.toml")), &Overrides::default()).unwrap();
            assert!(c.retention.service().ephemeral());
            assert!(c.retention.courier().unwrap().is_some());
            Ok(())
        });
    }

    #[test]
    fn threshold_is_calibrated_unless_set() {
        figment::Jail::expect_with(|jail| {
            let multilingual = Overrides {
                model: Some("multilingual".into()),
                ..Default::default()
            };
            let c = Config::load(None, &multilingual).unwrap();
            assert_eq!(c.threshold, None);
            // Set anywhere, the clinic's value wins.
            jail.set_env("CARECHAT_THRESHOLD", "0.5");
            let c = Config::load(None, &multilingual).unwrap();
            assert_eq!(c.threshold, Some(0.5));
            jail.create_file(
                "carechat.toml",
                "margin = 0.07\nmodel = \"multilingual-e5-small\"",
            )?;
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!((c.threshold, c.margin), (Some(0.5), 0.07));
            Ok(())
        });
    }

    #[test]
    fn key_file_sits_beside_the_database() {
        let with_db = |db: &str| Config {
            db: db.into(),
            ..Config::default()
        };
        assert_eq!(
            with_db("carechat.db").key_path(),
            Some("carechat.db.key".into())
        );
        assert_eq!(
            with_db("sqlite:///var/lib/carechat/c.db?mode=rwc").key_path(),
            Some("/var/lib/carechat/c.db.key".into())
        );
        assert_eq!(with_db("sqlite::memory:").key_path(), None);
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "carechat.toml",
                "key_file = \"/etc/carechat/key\"\ntrusted_proxies = [\"10.0.0.2\", \"::1\"]",
            )?;
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.key_path(), Some("/etc/carechat/key".into()));
            assert_eq!(c.trusted_proxies.len(), 2);
            jail.create_file("carechat.toml", "trusted_proxies = [\"not an address\"]")?;
            assert!(Config::load(None, &Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn routing_policy_from_the_table() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, &Overrides::default()).unwrap();
            let p = c.routing.policy();
            assert_eq!(p.offer_timeout_ms, None);
            assert_eq!(p.fallback["billing"], ["front_desk"]);
            assert!(p.offline_form);
            jail.create_file(
                "carechat.toml",
                "[routing]\noffer_timeout_secs = 30\nfallback = { nursing = [\"dental\"], billing = [] }\noffline_form = false",
            )?;
            let c = Config::load(None, &Overrides::default()).unwrap();
            let p = c.routing.policy();
            assert_eq!(p.offer_timeout_ms, Some(30_000));
            // Tables merge key by key: a clinic adds skills, or empties one.
            assert_eq!(p.fallback["nursing"], ["dental"]);
            assert!(p.fallback["billing"].is_empty());
            assert_eq!(p.fallback["records"], ["front_desk"]);
            assert!(!p.offline_form);
            assert_eq!(
                p.fallback_after_ms,
                Some(60_000),
                "unset keys keep their default"
            );
            assert!(!p.fallback_when_unavailable);
            Ok(())
        });
    }
}

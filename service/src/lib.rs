//! The conversation core: from a patient's message to the bot's reply or a
//! clinician, and everything that follows (offers, transfers, closing,
//! moderation), with who is online and the typed frames both sockets carry.
//!
//! It is its own crate so the state machine can be read, and tested, apart
//! from HTTP: there is no axum here. It is handed what it works with, each
//! behind a trait: the bot ([`Assistant`]), the store ([`store::Store`]) and
//! a clock ([`Clock`]). The server (`console/`) owns the sockets and the
//! HTTP API and calls in; the tests in `src/tests/core.rs` drive the same calls
//! with a scripted bot and a clock they move by hand.
//!
//! - `access.rs`: who may see which conversation, and break-glass.
//! - `audit.rs`: searching and exporting the audit trail.
//! - `mfa.rs` and `totp.rs`: two-factor sign-in.
//! - `accounts.rs`: staff accounts, passwords and logging in.
//! - `conversation.rs`: one patient message through the pipeline, escalation,
//!   taking, replying and closing.
//! - `routing.rs`: the router's side: time-driven rules, offers, transfers,
//!   presence, team chat and translation.
//! - `transcript.rs`: a conversation written out for the practice and the
//!   patient; `retention.rs`: how long chats are kept, deletion, ephemeral mode.
//! - `workbench.rs`: the whitelist's versions, the evaluation gate,
//!   publishing without a restart and rollback.
//! - `consent.rs`: the clinic's consent text, accepted before the first
//!   message; `intake.rs`: the clinic's questions before the chat;
//!   `contact.rs`: the offline contact form and the "Left a
//!   message" list.
//! - `files.rs`: photos and PDFs both ways: type by content, virus scan,
//!   metadata stripped, sealed, downloads audited.
//! - `canned.rs`: clinicians' canned replies; `dashboard.rs`: the counts
//!   the dashboard draws, and the events they come from.
//! - `moderation.rs`: blocking a sender, the held list, the audit trail.
//! - `notify.rs`: staff told by email and the on-call list by text message;
//!   a patient's link to the answer, opened with a one-time code;
//!   `push.rs`: Web Push to staff's phones for waiting and urgent chats.
//! - `sessions.rs`: a patient's or clinician's socket opening and closing.
//! - `hub.rs`: the in-memory state: sockets, presence, the router.
//! - `frames.rs` and `views.rs`: what is sent.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod canned;
pub mod cluster;
pub mod consent;
pub mod contact;
mod conversation;
pub mod dashboard;
mod error;
pub mod files;
pub mod frames;
mod hub;
pub mod intake;
pub mod limits;
pub mod masking;
pub mod metrics;
pub mod mfa;
mod moderation;
pub mod notify;
mod ports;
pub mod push;
pub mod retention;
mod routing;
mod sessions;
pub mod sso;
#[cfg(test)]
mod tests;
pub mod tokens;
pub mod totp;
pub mod transcript;
pub mod views;
pub mod workbench;

use std::sync::{Arc, OnceLock, RwLock};

use bot_engine::Whitelist;
use store::Store;

pub use error::{ServiceError, ServiceResult};
pub use hub::{Hub, OUTBOUND, Relay, Target, encode};
pub use moderation::{BlockRequest, Identity, MAX_REASON_CHARS, SHARED_ADDRESS_BROWSERS};
pub use ports::{Assistant, Clock, Courier, SystemClock, Workshop};
pub use routing::{MAX_NOTE_CHARS, TransferRequest, TransferTo, clinician_language, is_state};
pub use sessions::{ClinicianSession, OpenRequest, PatientSession};

/// The most characters a message may have.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// The conversation core, shared by every socket and request.
pub struct Service {
    pub store: Arc<dyn Store>,
    /// Set once the models are loaded and warm; replaced when a new
    /// whitelist version goes live ([`workbench`]). A message holds the bot
    /// it started with until it is done.
    bot: RwLock<Option<Arc<dyn Assistant>>>,
    /// The live whitelist (its replies and the bot-wide messages).
    whitelist: RwLock<Arc<Whitelist>>,
    /// Builds a bot for a new whitelist version (the server's models).
    workshop: Option<Arc<dyn Workshop>>,
    /// One publish or rollback at a time.
    publishing: tokio::sync::Mutex<()>,
    /// The evaluation gate's tolerance ([`workbench::DEFAULT_TOLERANCE`]).
    gate_tolerance: f64,
    pub hub: Hub,
    /// Translation models, once loaded (none installed: stays empty).
    translator: OnceLock<Arc<translate::Translations>>,
    clock: Arc<dyn Clock>,
    /// Staff accounts and logging in.
    pub staff: accounts::Staff,
    /// How fast patients may open sockets, start chats and write.
    limits: limits::PatientLimits,
    /// How long conversations are kept ([`retention`]).
    retention: retention::Retention,
    /// Ephemeral mode's way to the clinic's endpoint.
    courier: Option<Arc<dyn Courier>>,
    /// Woken when a transcript is owed (a chat closed in ephemeral mode).
    deliveries: tokio::sync::Notify,
    /// What fills canned replies' `{clinic}` and `{phone}`.
    clinic: canned::ClinicInfo,
    /// The draft's bot, built for the workbench's "try a message", with the
    /// draft's files it was built from.
    tried: tokio::sync::Mutex<Option<TriedBot>>,
    /// The live whitelist's bot built to be judged (by the evaluation gate),
    /// kept from the publish that made it live, with that whitelist.
    judged_live: tokio::sync::Mutex<Option<JudgedBot>>,
    /// Email and text messages, when set up ([`notify`]).
    notifications: Option<notify::Notifications>,
    /// Who was told what ([`notify`]'s batching).
    told: notify::ToldState,
    /// The intake questions asked before the chat ([`intake`]).
    intake: Vec<intake::Field>,
    /// Files both ways ([`files`]).
    files: files::FileSharing,
    /// Web Push to staff's phones ([`push`]).
    pusher: Option<Arc<dyn push::Pusher>>,
    /// Turns at cleaning a file ([`files::CLEANING_AT_ONCE`]).
    file_work: tokio::sync::Semaphore,
    /// This node's part when several share the database ([`cluster`]).
    cluster: Option<cluster::Cluster>,
}

/// A whitelist and the bot built for it to be judged.
type JudgedBot = (Arc<Whitelist>, Arc<dyn Assistant>);

type TriedBot = (
    std::collections::BTreeMap<String, String>,
    Arc<Whitelist>,
    Arc<dyn Assistant>,
);

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        whitelist: Arc<Whitelist>,
        policy: router::Policy,
        clock: Arc<dyn Clock>,
    ) -> Service {
        Service {
            staff: accounts::Staff::new(store.clone()),
            store,
            bot: RwLock::new(None),
            whitelist: RwLock::new(whitelist),
            workshop: None,
            publishing: tokio::sync::Mutex::new(()),
            gate_tolerance: workbench::DEFAULT_TOLERANCE,
            hub: Hub::with_policy(policy),
            translator: OnceLock::new(),
            clock,
            limits: limits::PatientLimits::default(),
            retention: retention::Retention::default(),
            courier: None,
            deliveries: tokio::sync::Notify::new(),
            clinic: canned::ClinicInfo::default(),
            tried: tokio::sync::Mutex::new(None),
            judged_live: tokio::sync::Mutex::new(None),
            notifications: None,
            told: Default::default(),
            intake: Vec::new(),
            files: files::FileSharing::default(),
            pusher: None,
            file_work: tokio::sync::Semaphore::new(files::CLEANING_AT_ONCE),
            cluster: None,
        }
    }

    /// Staff accounts with two-factor sign-in set up ([`mfa`]).
    pub fn with_staff(mut self, staff: accounts::Staff) -> Service {
        self.staff = staff;
        self
    }

    /// How long conversations are kept ([`retention`]).
    pub fn with_retention(mut self, retention: retention::Retention) -> Service {
        self.retention = retention;
        self
    }

    /// Ephemeral mode's courier: transcripts of closed chats go to it,
    /// and the chats are deleted once it has them ([`retention`]).
    pub fn with_courier(mut self, courier: Arc<dyn Courier>) -> Service {
        self.courier = Some(courier);
        self
    }

    /// The intake questions asked before the chat ([`intake`]).
    pub fn with_intake(mut self, fields: Vec<intake::Field>) -> Service {
        self.intake = fields;
        self
    }

    /// Other patient-side limits than the defaults ([`limits`]).
    pub fn with_limits(mut self, limits: limits::PatientLimits) -> Service {
        self.limits = limits;
        self
    }

    /// Hands the service its warmed-up bot; the server is ready from here.
    pub fn set_bot(&self, bot: Arc<dyn Assistant>) {
        *self.bot.write().unwrap_or_else(|e| e.into_inner()) = Some(bot);
    }

    /// What builds bots for new whitelist versions ([`workbench`]).
    pub fn with_workshop(mut self, workshop: Arc<dyn Workshop>) -> Service {
        self.workshop = Some(workshop);
        self
    }

    /// Whether the bot is loaded.
    pub fn ready(&self) -> bool {
        self.bot.read().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    fn bot(&self) -> ServiceResult<Arc<dyn Assistant>> {
        self.bot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(ServiceError::Busy)
    }

    /// The live whitelist.
    pub fn whitelist(&self) -> Arc<Whitelist> {
        self.whitelist
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a new whitelist and its bot live together.
    fn go_live(&self, whitelist: Arc<Whitelist>, bot: Arc<dyn Assistant>) {
        *self.whitelist.write().unwrap_or_else(|e| e.into_inner()) = whitelist;
        self.set_bot(bot);
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Runs the router's time-driven rules (offers expiring, fallbacks, the
    /// contact form) once a second, for ever.
    pub async fn run_ticks(self: Arc<Self>) {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.tick().await;
        }
    }
}

/// A message anyone may send: not blank, and not over the limit.
fn check_text(text: &str) -> ServiceResult<()> {
    if text.trim().is_empty() {
        return Err(ServiceError::BadRequest("the message is empty".into()));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ServiceError::TooLong);
    }
    Ok(())
}

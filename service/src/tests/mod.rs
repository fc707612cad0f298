//! In-process tests of the conversation core: a real store on
//! `sqlite::memory:`, the real router and whitelist, a scripted bot in
//! place of the models, and a clock that stands still until the test moves
//! it ([`ManualClock`]), so offers expire and fallbacks fire when the test
//! says so, not when a sleep happens to be long enough.
//!
//! Why not tokio's paused time: sqlx's pool puts a timeout around every
//! connection hand-over, and a paused runtime that waits on SQLite's own
//! thread jumps the clock to that timeout and fires it (`PoolTimedOut`).
//! The router never reads tokio's clock anyway, only [`crate::Clock`].

mod consent;
mod contact;
mod core;
mod dashboard;
mod files;
mod intake;
mod notify;
mod originals;
mod protocol;
mod push;
mod transcripts;
mod workbench;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bot_engine::{Action, Assessment, Context, Emergency, EngineError, Reason, Whitelist};
use redaction::Redacted;
use serde_json::Value;
use store::{Accounts, Conversations, NewUser, Role, SqlStore, User};
use tokio::sync::mpsc;

use crate::{Assistant, ClinicianSession, Clock, Identity, OpenRequest, PatientSession, Service};

/// The bot, scripted on words in the message: "chest pain" is an
/// emergency, "hours" is answered, "bill" and "nurse" need a person with
/// that skill, "casino" is spam, "seo" is held; anything else escalates to
/// the front desk. "Maria" is the only PHI it knows, and redacts.
pub struct ScriptedBot;

fn language(text: &str) -> String {
    if text.contains('¿') || text.contains("tengo") {
        "es"
    } else {
        "en"
    }
    .into()
}

fn redact(text: &str) -> Redacted {
    Redacted {
        text: text.replace("Maria", "[NAME]"),
        spans: Vec::new(),
    }
}

#[async_trait]
impl Assistant for ScriptedBot {
    fn emergency(&self, text: &str, _ctx: &Context) -> Option<Emergency> {
        text.contains("chest pain").then(|| Emergency {
            language: language(text),
            language_confidence: 1.0,
            red_flag: "chest pain".into(),
            intent: Some("emergency".into()),
            skill: Some("nursing".into()),
            reply: "Call 911 now.".into(),
        })
    }

    async fn assess(&self, text: &str, _ctx: &Context) -> Result<Assessment, EngineError> {
        let (action, intent, skill, reply) = if text.contains("hours") {
            (Action::Answer, Some("opening_hours"), None, "We open at 8.")
        } else if text.contains("casino") {
            (Action::Block, None, None, "Blocked as spam.")
        } else if text.contains("seo") {
            (Action::Hold, None, None, "Someone will look at this.")
        } else if text.contains("bill") {
            (Action::Escalate, None, Some("billing"), "Connecting you.")
        } else if text.contains("nurse") {
            (Action::Escalate, None, Some("nursing"), "Connecting you.")
        } else {
            (
                Action::Escalate,
                None,
                Some("front_desk"),
                "Connecting you.",
            )
        };
        let r = redact(text);
        Ok(Assessment {
            redacted: r.text,
            spans: r.spans,
            language: language(text),
            language_confidence: 1.0,
            spam_score: if action == Action::Block { 0.99 } else { 0.01 },
            spam: action == Action::Block,
            intent: intent.map(str::to_string),
            confidence: if intent.is_some() { 0.9 } else { 0.2 },
            top: None,
            alternatives: Vec::new(),
            action,
            reason: (action == Action::Escalate).then_some(Reason::LowConfidence),
            skill: skill.map(str::to_string),
            reply: reply.into(),
            red_flag: None,
        })
    }

    async fn redact(&self, text: &str) -> Result<String, EngineError> {
        Ok(redact(text).text)
    }

    async fn redact_urgent(&self, text: &str) -> Result<Redacted, EngineError> {
        Ok(redact(text))
    }
}

/// The clinic's real whitelist files the scripted bot's intents name.
pub fn whitelist() -> Whitelist {
    Whitelist::parse(WHITELIST_FILES).unwrap()
}

/// [`whitelist`]'s files.
pub const WHITELIST_FILES: [(&str, &str); 4] = [
    (
        "messages.toml",
        include_str!("../../../intents/messages.toml"),
    ),
    (
        "opening_hours.toml",
        include_str!("../../../intents/opening_hours.toml"),
    ),
    (
        "billing_question.toml",
        include_str!("../../../intents/billing_question.toml"),
    ),
    (
        "emergency.toml",
        include_str!("../../../intents/emergency.toml"),
    ),
];

/// Milliseconds since the epoch, moved only by [`ManualClock::advance`].
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Clinic {
    pub service: Arc<Service>,
    pub store: Arc<SqlStore>,
    clock: Arc<ManualClock>,
}

impl Clinic {
    pub async fn new(policy: router::Policy) -> Clinic {
        Clinic::keeping(policy, crate::retention::Retention::default()).await
    }

    /// A clinic with its conversations kept as `retention` says.
    pub async fn keeping(policy: router::Policy, retention: crate::retention::Retention) -> Clinic {
        Clinic::built(policy, retention, |s| s).await
    }

    /// A clinic whose service is further set up by `setup` (a courier, a
    /// workshop).
    pub async fn with(setup: impl FnOnce(Service) -> Service) -> Clinic {
        Clinic::built(
            router::Policy::default(),
            crate::retention::Retention::default(),
            setup,
        )
        .await
    }

    /// A clinic in ephemeral mode: closed chats go to `courier`.
    pub async fn ephemeral(courier: Arc<dyn crate::Courier>) -> Clinic {
        let retention = crate::retention::Retention {
            days: Some(0),
            bot_idle_secs: None,
        };
        Clinic::built(router::Policy::default(), retention, |s| {
            s.with_courier(courier)
        })
        .await
    }

    async fn built(
        policy: router::Policy,
        retention: crate::retention::Retention,
        setup: impl FnOnce(Service) -> Service,
    ) -> Clinic {
        let store = Arc::new(
            SqlStore::open_with_vault(
                "sqlite::memory:",
                store::AuditKey::new([3; 32]),
                store::envelope::Keyring::new(vec![store::envelope::MasterKey::random()]).unwrap(),
            )
            .await
            .unwrap(),
        );
        let clock = Arc::new(ManualClock(AtomicU64::new(1_800_000_000_000)));
        let service = setup(
            Service::new(store.clone(), Arc::new(whitelist()), policy, clock.clone())
                .with_retention(retention),
        );
        service.set_bot(Arc::new(ScriptedBot));
        Clinic {
            service: Arc::new(service),
            store,
            clock,
        }
    }

    pub async fn user(&self, name: &str, skills: &[&str], languages: &[&str]) -> User {
        self.account(name, Role::Clinician, skills, languages).await
    }

    pub async fn account(
        &self,
        name: &str,
        role: Role,
        skills: &[&str],
        languages: &[&str],
    ) -> User {
        self.store
            .create_user(NewUser {
                username: name.to_lowercase(),
                display_name: name.into(),
                role,
                password_hash: "not used here".into(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                languages: languages.iter().map(|s| s.to_string()).collect(),
                max_chats: 2,
                licensed_states: Vec::new(),
            })
            .await
            .unwrap()
    }

    /// A clinician with their console open and available.
    pub async fn online(&self, user: &User) -> Console {
        let (session, rx) = self.service.connect_clinician(user.clone()).await;
        self.service
            .set_presence(user, router::Presence::Available)
            .await
            .unwrap();
        Console { session, rx }
    }

    pub async fn patient(&self, lang: &str) -> Patient {
        self.open(OpenRequest {
            lang: Some(lang.into()),
            ..Default::default()
        })
        .await
    }

    /// A patient's socket, with the clinic's consent accepted as the
    /// widget's "I agree" does (tests of the consent step itself use
    /// [`Clinic::open_unconsented`]).
    pub async fn open(&self, request: OpenRequest) -> Patient {
        let p = self.open_unconsented(request).await;
        self.agree(&p.session).await;
        p
    }

    /// Accepts the clinic's consent on `session`, as the widget's "I
    /// agree" does.
    pub async fn agree(&self, session: &PatientSession) {
        let conv = self
            .store
            .conversation(&session.conversation)
            .await
            .unwrap();
        if let Some(consent) = self.service.consent_owed(&conv).await.unwrap() {
            session.consent(&consent.version).await.unwrap();
        }
    }

    pub async fn open_unconsented(&self, request: OpenRequest) -> Patient {
        let (session, rx) = self
            .service
            .open_patient(&request, &Identity::default())
            .await
            .unwrap();
        Patient { session, rx }
    }

    /// Sets the clock to `at` (the store dates its rows by the wall clock:
    /// retention's tests set the service's clock relative to it).
    pub fn set_clock(&self, at: store::Timestamp) {
        self.clock
            .0
            .store(at.unix() as u64 * 1000, Ordering::SeqCst);
    }

    /// Moves the clock on and runs the router's time-driven rules, as the
    /// server's ticker does once a second.
    pub async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.service.tick().await;
    }
}

/// Everything queued on a socket so far, as JSON.
fn drain(rx: &mut mpsc::Receiver<String>) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(frame) = rx.try_recv() {
        out.push(serde_json::from_str(&frame).unwrap());
    }
    out
}

pub struct Patient {
    pub session: PatientSession,
    rx: mpsc::Receiver<String>,
}

impl Patient {
    pub async fn say(&self, text: &str) {
        self.session.message(text).await.unwrap();
    }

    pub fn frames(&mut self) -> Vec<Value> {
        drain(&mut self.rx)
    }

    pub fn id(&self) -> &store::ConversationId {
        &self.session.conversation
    }
}

pub struct Console {
    pub session: ClinicianSession,
    rx: mpsc::Receiver<String>,
}

impl Console {
    pub fn frames(&mut self) -> Vec<Value> {
        drain(&mut self.rx)
    }
}

/// The frames of one type.
pub fn of_type<'a>(frames: &'a [Value], kind: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == kind).collect()
}

/// The last `status` frame's state.
pub fn last_state(frames: &[Value]) -> Option<String> {
    of_type(frames, "status")
        .last()
        .and_then(|f| f["state"].as_str())
        .map(str::to_string)
}

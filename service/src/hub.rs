//! Who is connected right now, and the router's state: everything the
//! service keeps in memory only. Sockets are channels of serialized frames;
//! whoever owns the socket (the HTTP edge, a test) drains them.
//!
//! Locks here are plain mutexes held for a few map operations and never across
//! an `.await`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use store::{ConversationId, UserId};
use tokio::sync::mpsc;

use crate::frames::{ClinicianFrame, PatientFrame};

/// Frames a socket may have waiting before it counts as stuck.
pub const OUTBOUND: usize = 64;

#[derive(Default)]
struct ConvMemory {
    language: Option<String>,
    /// The skill of the last intent the bot answered: the chat's topic.
    topic: Option<String>,
    recent: Vec<Instant>,
    texts: Vec<u64>,
    /// A message of this conversation was already blocked as spam.
    caught: bool,
    /// Since when (the service clock's ms) no patient socket has been open,
    /// as the ticks saw it; `None` while one is.
    gone_since: Option<u64>,
}

/// How long a conversation's memory outlives its last patient socket. A chat
/// left with the bot is never closed, so without this its memory would stay
/// for the life of the process. What is lost is context the pipeline can do
/// without on a resume: the language falls back to the stored one, the
/// topic and the repeat counts start again.
pub const FORGET_AFTER_MS: u64 = 30 * 60 * 1000;

/// One open socket: its id (to deregister exactly it) and its outbound queue.
type Socket = (u64, mpsc::Sender<String>);

/// Whose socket a relayed frame is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Patient(ConversationId),
    Clinician(UserId),
}

/// Frames for sockets on the other nodes of a cluster ([`crate::cluster`]):
/// the server hands them on (PostgreSQL `NOTIFY`, sealed), and each node
/// that holds the socket delivers them ([`Hub::deliver`]).
pub trait Relay: Send + Sync {
    /// Hands `frame` (as its socket sends it) to the other nodes; never
    /// waits.
    fn relay(&self, to: Target, frame: String);
}

#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    patients: Mutex<HashMap<ConversationId, Socket>>,
    clinicians: Mutex<HashMap<UserId, Vec<Socket>>>,
    pub router: Mutex<router::Router>,
    memory: Mutex<HashMap<ConversationId, ConvMemory>>,
    relay: std::sync::OnceLock<std::sync::Arc<dyn Relay>>,
}

/// A frame as its socket sends it.
pub fn encode(frame: &impl serde::Serialize) -> String {
    serde_json::to_string(frame).expect("frames serialize")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take every chat down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// A hub whose router runs `policy`.
    pub fn with_policy(policy: router::Policy) -> Hub {
        Hub {
            router: Mutex::new(router::Router::with_policy(policy)),
            ..Hub::default()
        }
    }

    fn next(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The patient's socket for `conversation`; a newer one replaces an older.
    pub fn add_patient(&self, conversation: &ConversationId, tx: mpsc::Sender<String>) -> u64 {
        let id = self.next();
        lock(&self.patients).insert(conversation.clone(), (id, tx));
        self.count_sockets();
        id
    }

    fn count_sockets(&self) {
        let patients = lock(&self.patients).len();
        let clinicians = lock(&self.clinicians).values().map(Vec::len).sum();
        crate::metrics::sockets(patients, clinicians);
    }

    pub fn remove_patient(&self, conversation: &ConversationId, id: u64) {
        let mut patients = lock(&self.patients);
        if patients.get(conversation).is_some_and(|(i, _)| *i == id) {
            patients.remove(conversation);
        }
        drop(patients);
        self.count_sockets();
    }

    pub fn patient_connected(&self, conversation: &ConversationId) -> bool {
        lock(&self.patients).contains_key(conversation)
    }

    /// Where frames for sockets on other nodes go ([`Relay`]).
    pub fn set_relay(&self, relay: std::sync::Arc<dyn Relay>) {
        let _ = self.relay.set(relay);
    }

    /// Sends a frame to the patient, if connected here, or else to the node
    /// that has them, in a cluster. A full buffer drops the frame rather
    /// than stalling the sender; the patient's state is in the database.
    pub fn to_patient(&self, conversation: &ConversationId, frame: &PatientFrame) {
        if let Some((_, tx)) = lock(&self.patients).get(conversation) {
            let _ = tx.try_send(encode(frame));
        } else if let Some(relay) = self.relay.get() {
            relay.relay(Target::Patient(conversation.clone()), encode(frame));
        }
    }

    /// A frame relayed from another node, to the socket here, if any.
    pub fn deliver(&self, to: &Target, frame: String) {
        match to {
            Target::Patient(conversation) => {
                if let Some((_, tx)) = lock(&self.patients).get(conversation) {
                    let _ = tx.try_send(frame);
                }
            }
            Target::Clinician(user) => self.send_here(*user, frame),
        }
    }

    fn send_here(&self, user: UserId, text: String) {
        if let Some(list) = lock(&self.clinicians).get(&user) {
            for (_, tx) in list {
                let _ = tx.try_send(text.clone());
            }
        }
    }

    pub fn add_clinician(&self, user: UserId, tx: mpsc::Sender<String>) -> u64 {
        let id = self.next();
        lock(&self.clinicians)
            .entry(user)
            .or_default()
            .push((id, tx));
        self.count_sockets();
        id
    }

    /// Removes one socket; true when it was the clinician's last.
    pub fn remove_clinician(&self, user: UserId, id: u64) -> bool {
        let mut clinicians = lock(&self.clinicians);
        let Some(list) = clinicians.get_mut(&user) else {
            return true;
        };
        list.retain(|(i, _)| *i != id);
        let last = list.is_empty();
        if last {
            clinicians.remove(&user);
        }
        drop(clinicians);
        self.count_sockets();
        last
    }

    pub fn online_clinicians(&self) -> Vec<UserId> {
        lock(&self.clinicians).keys().copied().collect()
    }

    /// Sends a frame to every console of `user`: here, and on the other
    /// nodes of a cluster.
    pub fn to_clinician(&self, user: UserId, frame: &ClinicianFrame) {
        let text = encode(frame);
        if let Some(relay) = self.relay.get() {
            relay.relay(Target::Clinician(user), text.clone());
        }
        self.send_here(user, text);
    }

    /// Sends a frame to the consoles of `user` on this node only (a view
    /// each node works out for its own consoles).
    pub fn to_clinician_here(&self, user: UserId, frame: &ClinicianFrame) {
        self.send_here(user, encode(frame));
    }

    /// Records a patient message and returns (repeats of this exact text,
    /// messages in the last minute) for the spam scorer.
    pub fn note_message(&self, conversation: &ConversationId, text: &str) -> (usize, usize) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.trim().to_lowercase().hash(&mut h);
        let hash = h.finish();
        let now = Instant::now();
        let mut memory = lock(&self.memory);
        let m = memory.entry(conversation.clone()).or_default();
        m.recent
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        m.recent.push(now);
        let repeats = m.texts.iter().filter(|&&t| t == hash).count();
        m.texts.push(hash);
        if m.texts.len() > 50 {
            m.texts.remove(0);
        }
        (repeats, m.recent.len())
    }

    /// Whether this conversation already had a message blocked as spam: a
    /// known-bad sender, for the spam scorer.
    pub fn known_bad(&self, conversation: &ConversationId) -> bool {
        lock(&self.memory)
            .get(conversation)
            .is_some_and(|m| m.caught)
    }

    pub fn mark_spam(&self, conversation: &ConversationId) {
        lock(&self.memory)
            .entry(conversation.clone())
            .or_default()
            .caught = true;
    }

    pub fn language(&self, conversation: &ConversationId) -> Option<String> {
        lock(&self.memory)
            .get(conversation)
            .and_then(|m| m.language.clone())
    }

    pub fn set_language(&self, conversation: &ConversationId, language: &str) {
        lock(&self.memory)
            .entry(conversation.clone())
            .or_default()
            .language = Some(language.to_string());
    }

    pub fn topic(&self, conversation: &ConversationId) -> Option<String> {
        lock(&self.memory)
            .get(conversation)
            .and_then(|m| m.topic.clone())
    }

    pub fn set_topic(&self, conversation: &ConversationId, skill: &str) {
        lock(&self.memory)
            .entry(conversation.clone())
            .or_default()
            .topic = Some(skill.to_string());
    }

    pub fn forget(&self, conversation: &ConversationId) {
        lock(&self.memory).remove(conversation);
    }

    /// Drops the memory of conversations whose patient has had no socket
    /// open for [`FORGET_AFTER_MS`]; called on every tick.
    pub fn sweep(&self, now_ms: u64) {
        let patients = lock(&self.patients);
        lock(&self.memory).retain(|conversation, m| {
            if patients.contains_key(conversation) {
                m.gone_since = None;
                return true;
            }
            let since = *m.gone_since.get_or_insert(now_ms);
            now_ms.saturating_sub(since) < FORGET_AFTER_MS
        });
    }

    /// Whether the hub still holds `conversation`'s pipeline memory.
    pub fn remembers(&self, conversation: &ConversationId) -> bool {
        lock(&self.memory).contains_key(conversation)
    }

    pub fn router(&self) -> std::sync::MutexGuard<'_, router::Router> {
        lock(&self.router)
    }
}

//! Who is connected right now, and the router's state: everything the server
//! keeps in memory only.
//!
//! Locks here are plain mutexes held for a few map operations and never across
//! an `.await`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

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
}

/// One open socket: its id (to deregister exactly it) and its outbound queue.
type Socket = (u64, mpsc::Sender<String>);

#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    patients: Mutex<HashMap<String, Socket>>,
    clinicians: Mutex<HashMap<i64, Vec<Socket>>>,
    pub router: Mutex<router::Router>,
    memory: Mutex<HashMap<String, ConvMemory>>,
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
    pub fn add_patient(&self, conversation: &str, tx: mpsc::Sender<String>) -> u64 {
        let id = self.next();
        lock(&self.patients).insert(conversation.to_string(), (id, tx));
        id
    }

    pub fn remove_patient(&self, conversation: &str, id: u64) {
        let mut patients = lock(&self.patients);
        if patients.get(conversation).is_some_and(|(i, _)| *i == id) {
            patients.remove(conversation);
        }
    }

    pub fn patient_connected(&self, conversation: &str) -> bool {
        lock(&self.patients).contains_key(conversation)
    }

    /// Sends a frame to the patient, if connected. A full buffer drops the frame
    /// rather than stalling the sender; the patient's state is in the database.
    pub fn to_patient(&self, conversation: &str, frame: &serde_json::Value) {
        if let Some((_, tx)) = lock(&self.patients).get(conversation) {
            let _ = tx.try_send(frame.to_string());
        }
    }

    pub fn add_clinician(&self, user: i64, tx: mpsc::Sender<String>) -> u64 {
        let id = self.next();
        lock(&self.clinicians)
            .entry(user)
            .or_default()
            .push((id, tx));
        id
    }

    /// Removes one socket; true when it was the clinician's last.
    pub fn remove_clinician(&self, user: i64, id: u64) -> bool {
        let mut clinicians = lock(&self.clinicians);
        let Some(list) = clinicians.get_mut(&user) else {
            return true;
        };
        list.retain(|(i, _)| *i != id);
        if list.is_empty() {
            clinicians.remove(&user);
            true
        } else {
            false
        }
    }

    pub fn online_clinicians(&self) -> Vec<i64> {
        lock(&self.clinicians).keys().copied().collect()
    }

    pub fn to_clinician(&self, user: i64, frame: &serde_json::Value) {
        if let Some(list) = lock(&self.clinicians).get(&user) {
            let text = frame.to_string();
            for (_, tx) in list {
                let _ = tx.try_send(text.clone());
            }
        }
    }

    /// Records a patient message and returns (repeats of this exact text,
    /// messages in the last minute) for the spam scorer.
    pub fn note_message(&self, conversation: &str, text: &str) -> (usize, usize) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.trim().to_lowercase().hash(&mut h);
        let hash = h.finish();
        let now = Instant::now();
        let mut memory = lock(&self.memory);
        let m = memory.entry(conversation.to_string()).or_default();
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
    pub fn known_bad(&self, conversation: &str) -> bool {
        lock(&self.memory)
            .get(conversation)
            .is_some_and(|m| m.caught)
    }

    pub fn mark_spam(&self, conversation: &str) {
        lock(&self.memory)
            .entry(conversation.to_string())
            .or_default()
            .caught = true;
    }

    pub fn language(&self, conversation: &str) -> Option<String> {
        lock(&self.memory)
            .get(conversation)
            .and_then(|m| m.language.clone())
    }

    pub fn set_language(&self, conversation: &str, language: &str) {
        lock(&self.memory)
            .entry(conversation.to_string())
            .or_default()
            .language = Some(language.to_string());
    }

    pub fn topic(&self, conversation: &str) -> Option<String> {
        lock(&self.memory)
            .get(conversation)
            .and_then(|m| m.topic.clone())
    }

    pub fn set_topic(&self, conversation: &str, skill: &str) {
        lock(&self.memory)
            .entry(conversation.to_string())
            .or_default()
            .topic = Some(skill.to_string());
    }

    pub fn forget(&self, conversation: &str) {
        lock(&self.memory).remove(conversation);
    }

    pub fn router(&self) -> std::sync::MutexGuard<'_, router::Router> {
        lock(&self.router)
    }
}

//! Decides which clinician gets a patient's chat once the chatbot escalates it,
//! and keeps the waiting queue for chats nobody can take yet. The crate is pure
//! on purpose: no I/O, no clock, no threads, no async, no logging. Time comes in
//! as milliseconds from the caller, so the same calls in the same order always
//! give the same answer; that is what lets the rules be pinned down by table
//! tests and a seeded simulation, and lets the server replay or audit a
//! decision. The state is plain data (ids, not references into other objects)
//! and derives serde, so the server can store it in Postgres and share it
//! between nodes without this crate knowing either exists. It holds no patient
//! text: only conversation ids and what the chat needs (skill, language,
//! urgency).
//!
//! The public structs keep their room to grow: router-owned fields are private
//! and the enums that new policies (offers with timeouts, transfers, fallback
//! skill groups) would extend are `#[non_exhaustive]`, so adding those later is
//! not a breaking change. Every serialised field that is not an identity has a
//! serde default, so state written by this version still loads after fields
//! are added.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

mod translate;

pub use translate::{TranslateError, Translator};

#[cfg(test)]
mod simulation;
#[cfg(test)]
mod tests;

/// Matches the `id` of the console's user table.
pub type ClinicianId = i64;

const DEFAULT_MAX_CHATS: usize = 4;

fn default_max_chats() -> usize {
    DEFAULT_MAX_CHATS
}

/// Whether a clinician wants chats handed to them automatically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Away,
    /// The default because a clinician is offline until their console connects.
    #[default]
    Offline,
}

/// A clinician as the router sees them.
///
/// The public fields are the profile, which the caller owns and changes with
/// [`Router::upsert_clinician`]. Presence, open chats and the last assignment
/// time are private because the router keeps them consistent with its queue;
/// they are read through the accessors and changed only through `Router`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clinician {
    pub id: ClinicianId,
    pub display_name: String,
    /// Skill tags such as `"nursing"`; compared exactly because they are our own
    /// identifiers, not free text.
    #[serde(default)]
    pub skills: Vec<String>,
    /// ISO 639-1 codes such as `"en"`.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Limit for automatic assignment only: a clinician may take more by hand.
    #[serde(default = "default_max_chats")]
    pub max_chats: usize,
    #[serde(default)]
    presence: Presence,
    #[serde(default)]
    open_chats: BTreeSet<String>,
    #[serde(default)]
    last_assigned_at: Option<u64>,
}

impl Clinician {
    /// A clinician with no skills, no languages, the default capacity of 4, and
    /// offline.
    pub fn new(id: ClinicianId, display_name: impl Into<String>) -> Self {
        Self {
            id,
            display_name: display_name.into(),
            skills: Vec::new(),
            languages: Vec::new(),
            max_chats: DEFAULT_MAX_CHATS,
            presence: Presence::Offline,
            open_chats: BTreeSet::new(),
            last_assigned_at: None,
        }
    }

    pub fn with_skills<I, S>(mut self, skills: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.skills = skills.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_languages<I, S>(mut self, languages: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.languages = languages.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_max_chats(mut self, max_chats: usize) -> Self {
        self.max_chats = max_chats;
        self
    }

    pub fn presence(&self) -> Presence {
        self.presence
    }

    /// Conversation ids currently assigned to this clinician, in id order.
    pub fn open_chats(&self) -> impl ExactSizeIterator<Item = &str> {
        self.open_chats.iter().map(String::as_str)
    }

    pub fn open_count(&self) -> usize {
        self.open_chats.len()
    }

    /// When this clinician last got a chat, automatically or by hand; `None`
    /// if never, which makes them the most idle.
    pub fn last_assigned_at(&self) -> Option<u64> {
        self.last_assigned_at
    }

    pub fn has_skill(&self, skill: &str) -> bool {
        self.skills.iter().any(|s| s == skill)
    }

    /// Language tags are case-insensitive by standard (BCP 47), and browsers
    /// and detectors disagree on case.
    pub fn speaks(&self, language: &str) -> bool {
        self.languages
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language))
    }

    fn serves(&self, skill: Option<&str>) -> bool {
        skill.is_none_or(|s| self.has_skill(s))
    }

    /// The one eligibility rule shared by `route` and every automatic
    /// assignment from the queue, so the two can never drift apart.
    fn can_auto_take(&self, skill: Option<&str>) -> bool {
        self.presence == Presence::Available
            && self.open_chats.len() < self.max_chats
            && self.serves(skill)
    }
}

/// An escalated chat asking for a clinician.
///
/// `#[non_exhaustive]` so that later policies can add fields; build it with
/// [`Request::new`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Request {
    pub conversation: String,
    /// `None` means any clinician will do.
    #[serde(default)]
    pub skill: Option<String>,
    pub language: String,
    #[serde(default)]
    pub urgent: bool,
    /// When the patient started waiting; orders the queue and, if the chat is
    /// assigned at once, becomes the clinician's last assignment time.
    pub at_ms: u64,
}

impl Request {
    /// A non-urgent request that any clinician can take.
    pub fn new(conversation: impl Into<String>, language: impl Into<String>, at_ms: u64) -> Self {
        Self {
            conversation: conversation.into(),
            skill: None,
            language: language.into(),
            urgent: false,
            at_ms,
        }
    }

    pub fn with_skill(mut self, skill: impl Into<String>) -> Self {
        self.skill = Some(skill.into());
        self
    }

    pub fn with_urgent(mut self, urgent: bool) -> Self {
        self.urgent = urgent;
        self
    }
}

/// What `route` did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Routed {
    Assigned(ClinicianId),
    /// 1 = next in line.
    Queued {
        position: usize,
    },
}

/// A queued chat that the router has just handed to a clinician, so the caller
/// can tell both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Assignment {
    pub conversation: String,
    pub clinician: ClinicianId,
}

/// A chat waiting in the queue (and, privately, the ticket an assigned chat
/// keeps so it can be requeued with its original priority).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedChat {
    pub conversation: String,
    #[serde(default)]
    pub skill: Option<String>,
    pub language: String,
    #[serde(default)]
    pub urgent: bool,
    pub at_ms: u64,
    /// Set when the chat had a clinician who was removed. Such a patient was
    /// already being helped, so they go ahead of everyone of the same urgency
    /// who has not been helped yet.
    #[serde(default)]
    pub requeued: bool,
    /// Breaks ties between equal `at_ms` by insertion order, so the order is
    /// total and the same on every node.
    #[serde(default)]
    seq: u64,
}

impl QueuedChat {
    /// The whole queue order in one place: urgent first, then requeued, then
    /// oldest arrival, then insertion order.
    fn order_key(&self) -> (bool, bool, u64, u64) {
        (!self.urgent, !self.requeued, self.at_ms, self.seq)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Assigned {
    clinician: ClinicianId,
    /// Kept whole so that removing the clinician can requeue the chat with
    /// its original urgency, arrival time and insertion order.
    ticket: QueuedChat,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    #[error("unknown clinician {0}")]
    UnknownClinician(ClinicianId),
    #[error("unknown conversation {0}")]
    UnknownConversation(String),
    #[error("conversation {conversation} is assigned to clinician {assigned_to}")]
    Conflict {
        conversation: String,
        assigned_to: ClinicianId,
    },
    /// Routing is not idempotent: a second request might carry a different
    /// skill or urgency, and silently ignoring it would hide the caller's bug.
    /// Use [`Router::position`] or [`Router::assignee`] to ask first.
    #[error("conversation {0} is already queued or assigned")]
    AlreadyRouted(String),
}

/// All routing state: clinicians, the queue, and who has which chat.
///
/// Every method either succeeds or returns an error without changing
/// anything. After every call no queued chat could be taken automatically by
/// any clinician: whenever capacity may have appeared, the queue is offered
/// out again in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Router {
    clinicians: BTreeMap<ClinicianId, Clinician>,
    /// Always sorted by `QueuedChat::order_key`.
    queue: Vec<QueuedChat>,
    /// Mirrors each clinician's `open_chats`; kept alongside because it holds
    /// the ticket needed to requeue a chat.
    assigned: BTreeMap<String, Assigned>,
    next_seq: u64,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Assigns the chat to the best clinician who can take it now, or queues it.
    ///
    /// Best means: fewest open chats, then speaks the request's language, then
    /// longest idle (never assigned first), then lowest id.
    pub fn route(&mut self, req: Request) -> Result<Routed, RouteError> {
        if self.is_known(&req.conversation) {
            return Err(RouteError::AlreadyRouted(req.conversation));
        }
        let Request {
            conversation,
            skill,
            language,
            urgent,
            at_ms,
        } = req;
        let ticket = QueuedChat {
            conversation,
            skill,
            language,
            urgent,
            at_ms,
            requeued: false,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        match self.best_for(&ticket) {
            Some(id) => {
                self.attach(id, ticket, at_ms);
                Ok(Routed::Assigned(id))
            }
            None => Ok(Routed::Queued {
                position: self.enqueue(ticket),
            }),
        }
    }

    /// A clinician picks a queued chat from the console.
    ///
    /// Presence, capacity and skills are deliberately ignored: this is a human
    /// decision, and a clinician who is away for patients may still choose to
    /// help. Taking a chat one already has succeeds and changes nothing, so a
    /// double click is harmless.
    pub fn take(
        &mut self,
        conversation: &str,
        clinician: ClinicianId,
        now_ms: u64,
    ) -> Result<(), RouteError> {
        if !self.clinicians.contains_key(&clinician) {
            return Err(RouteError::UnknownClinician(clinician));
        }
        if let Some(a) = self.assigned.get(conversation) {
            return if a.clinician == clinician {
                Ok(())
            } else {
                Err(RouteError::Conflict {
                    conversation: conversation.to_owned(),
                    assigned_to: a.clinician,
                })
            };
        }
        let index = self
            .queue_index(conversation)
            .ok_or_else(|| RouteError::UnknownConversation(conversation.to_owned()))?;
        let ticket = self.queue.remove(index);
        self.attach(clinician, ticket, now_ms);
        Ok(())
    }

    /// The chat is over: it leaves the queue or its clinician. If that freed a
    /// place, queued chats are assigned; those assignments are returned.
    pub fn release(
        &mut self,
        conversation: &str,
        now_ms: u64,
    ) -> Result<Vec<Assignment>, RouteError> {
        if let Some(index) = self.queue_index(conversation) {
            self.queue.remove(index);
            return Ok(Vec::new());
        }
        let assigned = self
            .assigned
            .remove(conversation)
            .ok_or_else(|| RouteError::UnknownConversation(conversation.to_owned()))?;
        if let Some(c) = self.clinicians.get_mut(&assigned.clinician) {
            c.open_chats.remove(conversation);
        }
        Ok(self.drain(now_ms))
    }

    /// Changes a clinician's presence. Becoming available assigns them the
    /// queued chats they can serve, urgent and oldest first, up to their
    /// capacity. Going away or offline keeps their open chats: the patients
    /// are mid-conversation and the clinician is still responsible for them.
    pub fn set_presence(
        &mut self,
        clinician: ClinicianId,
        presence: Presence,
        now_ms: u64,
    ) -> Result<Vec<Assignment>, RouteError> {
        let c = self
            .clinicians
            .get_mut(&clinician)
            .ok_or(RouteError::UnknownClinician(clinician))?;
        c.presence = presence;
        Ok(self.drain(now_ms))
    }

    /// Adds a clinician or replaces their profile (name, skills, languages,
    /// capacity).
    ///
    /// Presence, open chats and last assignment time in `profile` are ignored:
    /// the router owns them, and taking them from a possibly stale copy could
    /// claim chats the queue knows nothing about. A new clinician starts
    /// offline. A profile change can let the clinician serve queued chats (a
    /// new skill, more capacity), so the assignments that follow are returned.
    /// Lowering `max_chats` below the open count takes nothing away.
    pub fn upsert_clinician(&mut self, profile: Clinician, now_ms: u64) -> Vec<Assignment> {
        // Destructured field by field so that a new profile field fails to
        // compile here until someone decides whether upsert copies it.
        let Clinician {
            id,
            display_name,
            skills,
            languages,
            max_chats,
            presence: _,
            open_chats: _,
            last_assigned_at: _,
        } = profile;
        let c = self
            .clinicians
            .entry(id)
            .or_insert_with(|| Clinician::new(id, String::new()));
        c.display_name = display_name;
        c.skills = skills;
        c.languages = languages;
        c.max_chats = max_chats;
        self.drain(now_ms)
    }

    /// Removes a clinician. Their open chats go back to the front of the queue
    /// (after urgent chats if they are not urgent themselves) and are then
    /// offered to the other clinicians like any queued chat. Returns where each
    /// of those chats ended up, in queue order, so the caller can tell the
    /// patients.
    pub fn remove_clinician(
        &mut self,
        clinician: ClinicianId,
        now_ms: u64,
    ) -> Result<Vec<(String, Routed)>, RouteError> {
        self.clinicians
            .remove(&clinician)
            .ok_or(RouteError::UnknownClinician(clinician))?;
        // `assigned` rather than the clinician's `open_chats` because only it
        // holds the tickets needed to requeue.
        let theirs: Vec<String> = self
            .assigned
            .iter()
            .filter(|(_, a)| a.clinician == clinician)
            .map(|(conversation, _)| conversation.clone())
            .collect();
        let mut tickets: Vec<QueuedChat> = theirs
            .iter()
            .filter_map(|conversation| self.assigned.remove(conversation))
            .map(|a| QueuedChat {
                requeued: true,
                ..a.ticket
            })
            .collect();
        tickets.sort_by_key(QueuedChat::order_key);
        let conversations: Vec<String> = tickets.iter().map(|t| t.conversation.clone()).collect();
        for ticket in tickets {
            self.enqueue(ticket);
        }
        self.drain(now_ms);
        Ok(conversations
            .into_iter()
            .map(|conversation| {
                let routed = match (self.assignee(&conversation), self.position(&conversation)) {
                    (Some(id), _) => Routed::Assigned(id),
                    (None, Some(position)) => Routed::Queued { position },
                    // Every requeued chat is either assigned or still queued.
                    (None, None) => unreachable!("requeued chat {conversation} vanished"),
                };
                (conversation, routed)
            })
            .collect())
    }

    /// The waiting chats in the order they will be served.
    pub fn queue(&self) -> Vec<QueuedChat> {
        self.queue.clone()
    }

    /// 1-based place in the queue, `None` if not queued.
    pub fn position(&self, conversation: &str) -> Option<usize> {
        self.queue_index(conversation).map(|i| i + 1)
    }

    pub fn assignee(&self, conversation: &str) -> Option<ClinicianId> {
        self.assigned.get(conversation).map(|a| a.clinician)
    }

    pub fn clinician(&self, id: ClinicianId) -> Option<&Clinician> {
        self.clinicians.get(&id)
    }

    /// All clinicians in id order.
    pub fn clinicians(&self) -> impl Iterator<Item = &Clinician> {
        self.clinicians.values()
    }

    fn is_known(&self, conversation: &str) -> bool {
        self.assigned.contains_key(conversation) || self.queue_index(conversation).is_some()
    }

    fn queue_index(&self, conversation: &str) -> Option<usize> {
        self.queue
            .iter()
            .position(|q| q.conversation == conversation)
    }

    fn best_for(&self, ticket: &QueuedChat) -> Option<ClinicianId> {
        let skill = ticket.skill.as_deref();
        self.clinicians
            .values()
            .filter(|c| c.can_auto_take(skill))
            .min_by_key(|c| {
                (
                    c.open_chats.len(),
                    !c.speaks(&ticket.language),
                    c.last_assigned_at,
                    c.id,
                )
            })
            .map(|c| c.id)
    }

    /// Inserts in order and returns the 1-based position.
    fn enqueue(&mut self, ticket: QueuedChat) -> usize {
        let key = ticket.order_key();
        let index = self.queue.partition_point(|q| q.order_key() <= key);
        self.queue.insert(index, ticket);
        index + 1
    }

    fn attach(&mut self, clinician: ClinicianId, ticket: QueuedChat, now_ms: u64) {
        let Some(c) = self.clinicians.get_mut(&clinician) else {
            // Callers look the clinician up first; should that ever change,
            // a patient left waiting is better than a patient lost.
            self.enqueue(ticket);
            return;
        };
        c.open_chats.insert(ticket.conversation.clone());
        // Max, because stamps may come from server nodes with skewed clocks
        // and an older one must not make a busy clinician look idle.
        c.last_assigned_at = Some(c.last_assigned_at.map_or(now_ms, |t| t.max(now_ms)));
        self.assigned
            .insert(ticket.conversation.clone(), Assigned { clinician, ticket });
    }

    /// Offers the queue, in order, to whoever can take each chat now. Runs
    /// after anything that might have made room, and over all clinicians
    /// rather than the one who changed so that the "nothing queued could be
    /// assigned" guarantee holds even for state loaded from elsewhere.
    fn drain(&mut self, now_ms: u64) -> Vec<Assignment> {
        let mut assignments = Vec::new();
        let mut index = 0;
        while index < self.queue.len() {
            if !self.clinicians.values().any(|c| c.can_auto_take(None)) {
                break;
            }
            match self.best_for(&self.queue[index]) {
                Some(clinician) => {
                    let ticket = self.queue.remove(index);
                    assignments.push(Assignment {
                        conversation: ticket.conversation.clone(),
                        clinician,
                    });
                    self.attach(clinician, ticket, now_ms);
                }
                None => index += 1,
            }
        }
        assignments
    }
}

//! The clinicians as the router sees them: who they are (skills, languages
//! with a level, licensed states, capacity), whether they are there
//! ([`Presence`]), and what they carry (open chats and pending offers, whose
//! sum is the load compared with `max_chats`). Plain data with no routing
//! rules: the router changes the runtime half, the caller owns the profile.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

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
    /// Online and taking automatic chats.
    Available,
    /// Online, shown as online, but taking no new automatic chats (in a call,
    /// writing up notes). May still take or start chats by hand.
    Busy,
    /// Stepped away: not online, no automatic chats.
    Away,
    /// The default because a clinician is offline until their console connects.
    #[default]
    Offline,
}

impl Presence {
    /// Available or busy: someone is at the console and could answer by hand.
    pub fn is_online(self) -> bool {
        matches!(self, Presence::Available | Presence::Busy)
    }
}

/// How well a clinician speaks a language. Ordered: `Basic < Fluent < Native`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Fluency {
    /// Can follow simple messages; the patient's messages are still translated.
    Basic,
    /// The level a bare language code means.
    #[default]
    Fluent,
    Native,
}

/// A language a clinician speaks, with how well.
///
/// Deserialises from either `"es"` (fluent) or `{"code": "es", "level":
/// "basic"}`, so profiles stored as plain codes still load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "LanguageRepr")]
pub struct Language {
    /// ISO 639-1 code such as `"en"`; compared case-insensitively.
    pub code: String,
    pub level: Fluency,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LanguageRepr {
    Code(String),
    Full {
        code: String,
        #[serde(default)]
        level: Fluency,
    },
}

impl From<LanguageRepr> for Language {
    fn from(r: LanguageRepr) -> Self {
        match r {
            LanguageRepr::Code(code) => Language::fluent(code),
            LanguageRepr::Full { code, level } => Language { code, level },
        }
    }
}

impl Language {
    /// `code` at [`Fluency::Fluent`].
    pub fn fluent(code: impl Into<String>) -> Self {
        Language {
            code: code.into(),
            level: Fluency::Fluent,
        }
    }
}

impl From<&str> for Language {
    fn from(code: &str) -> Self {
        Language::fluent(code)
    }
}

impl From<String> for Language {
    fn from(code: String) -> Self {
        Language::fluent(code)
    }
}

impl From<&String> for Language {
    fn from(code: &String) -> Self {
        Language::fluent(code.clone())
    }
}

impl<S: Into<String>> From<(S, Fluency)> for Language {
    fn from((code, level): (S, Fluency)) -> Self {
        Language {
            code: code.into(),
            level,
        }
    }
}

/// A clinician as the router sees them.
///
/// The public fields are the profile, which the caller owns and changes with
/// [`Router::upsert_clinician`]. Presence, open chats, pending offers and the
/// last assignment time are private because the router keeps them consistent
/// with its queue; they are read through the accessors and changed only
/// through `Router`.
///
/// [`Router::upsert_clinician`]: crate::Router::upsert_clinician
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clinician {
    pub id: ClinicianId,
    pub display_name: String,
    /// Skill tags such as `"nursing"`; compared exactly because they are our own
    /// identifiers, not free text.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Languages with a level; the order is the clinician's preference among
    /// equal levels (it picks the target of a translation).
    #[serde(default)]
    pub languages: Vec<Language>,
    /// States (such as `"CA"`) the clinician is licensed in; compared
    /// case-insensitively. Only chats that name a state look at it.
    #[serde(default)]
    pub licensed_states: Vec<String>,
    /// Limit for automatic assignment only (open chats plus pending offers): a
    /// clinician may take more by hand.
    #[serde(default = "default_max_chats")]
    pub max_chats: usize,
    #[serde(default)]
    pub(crate) presence: Presence,
    #[serde(default)]
    pub(crate) open_chats: BTreeSet<String>,
    #[serde(default)]
    pub(crate) offered: BTreeSet<String>,
    #[serde(default)]
    pub(crate) last_assigned_at: Option<u64>,
}

impl Clinician {
    /// A clinician with no skills, no languages, no licences, the default
    /// capacity of 4, and offline.
    pub fn new(id: ClinicianId, display_name: impl Into<String>) -> Self {
        Self {
            id,
            display_name: display_name.into(),
            skills: Vec::new(),
            languages: Vec::new(),
            licensed_states: Vec::new(),
            max_chats: DEFAULT_MAX_CHATS,
            presence: Presence::Offline,
            open_chats: BTreeSet::new(),
            offered: BTreeSet::new(),
            last_assigned_at: None,
        }
    }

    /// Replaces the skill tags.
    pub fn with_skills<I, S>(mut self, skills: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.skills = skills.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the languages. A bare code (`"es"`) means fluent; a pair
    /// (`("es", Fluency::Basic)`) gives the level.
    pub fn with_languages<I, L>(mut self, languages: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<Language>,
    {
        self.languages = languages.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the licensed states.
    pub fn with_licensed_states<I, S>(mut self, states: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.licensed_states = states.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the automatic-assignment limit.
    pub fn with_max_chats(mut self, max_chats: usize) -> Self {
        self.max_chats = max_chats;
        self
    }

    /// The presence the router last recorded.
    pub fn presence(&self) -> Presence {
        self.presence
    }

    /// Conversation ids currently assigned to this clinician, in id order.
    pub fn open_chats(&self) -> impl ExactSizeIterator<Item = &str> {
        self.open_chats.iter().map(String::as_str)
    }

    /// Conversations offered to this clinician and not yet accepted.
    pub fn offered_chats(&self) -> impl ExactSizeIterator<Item = &str> {
        self.offered.iter().map(String::as_str)
    }

    /// Open chats, not counting offers.
    pub fn open_count(&self) -> usize {
        self.open_chats.len()
    }

    /// What `max_chats` is compared with: open chats plus pending offers.
    pub fn load(&self) -> usize {
        self.open_chats.len() + self.offered.len()
    }

    /// When this clinician last got a chat (or an offer of one), automatically
    /// or by hand; `None` if never, which makes them the most idle.
    pub fn last_assigned_at(&self) -> Option<u64> {
        self.last_assigned_at
    }

    /// Whether the clinician holds `skill` (exact comparison).
    pub fn has_skill(&self, skill: &str) -> bool {
        self.skills.iter().any(|s| s == skill)
    }

    /// Their level in `language`, if they speak it at all. Language tags are
    /// case-insensitive by standard (BCP 47), and browsers and detectors
    /// disagree on case.
    pub fn level(&self, language: &str) -> Option<Fluency> {
        self.languages
            .iter()
            .filter(|l| l.code.eq_ignore_ascii_case(language))
            .map(|l| l.level)
            .max()
    }

    /// Speaks `language` at any level.
    pub fn speaks(&self, language: &str) -> bool {
        self.level(language).is_some()
    }

    /// Whether the clinician is licensed in `state` (case-insensitive).
    pub fn licensed_in(&self, state: &str) -> bool {
        self.licensed_states
            .iter()
            .any(|s| s.eq_ignore_ascii_case(state))
    }

    /// Available and below `max_chats`: may get a chat automatically.
    pub(crate) fn has_room(&self) -> bool {
        self.presence == Presence::Available && self.load() < self.max_chats
    }
}

//! Decides which clinician gets a patient's chat once the chatbot escalates it,
//! and keeps the waiting queue for chats nobody can take yet. The crate is pure
//! on purpose: no I/O, no clock, no threads, no async, no logging. Time comes in
//! as milliseconds from the caller, so the same calls in the same order always
//! give the same answer; that is what lets the rules be pinned down by table
//! tests, property tests and a seeded simulation ([`sim`]), and lets the server
//! replay or audit a decision. The state is plain data (ids, not references
//! into other objects) and derives serde, so the server can store it in
//! Postgres and share it between nodes without this crate knowing either
//! exists. It holds no patient text: only conversation ids and what the chat
//! needs (skill, language, licensed state, urgency). A transfer note passes
//! through [`Router::transfer`] into the returned [`Transfer`] and is not kept.
//!
//! # The rules
//!
//! * **Queue order**: urgent first, then chats that a clinician already had
//!   (requeued or transferred), then oldest arrival, then insertion order.
//! * **Who may get a chat automatically**: an [`Presence::Available`]
//!   clinician below `max_chats` (open chats plus pending offers) who holds the
//!   chat's skill (or, once the chat has fallen back, one of its fallback
//!   skills), who is licensed in the chat's state if it names one, and who has
//!   not let this chat's offer pass in the current round.
//! * **Who is best**: primary-skill holders before fallback-skill holders;
//!   then the lowest cost, where cost is the load (open chats plus offers) plus
//!   a language penalty from [`Weights`] (0 for a native or fluent speaker);
//!   then the smaller language penalty; then the longest idle (never assigned
//!   first); then the lowest id. Longest-idle is what makes it fair over time:
//!   whoever just got a chat goes to the back among equals.
//! * **Offers** ([`Policy::offer_timeout_ms`]): with a timeout set, the router
//!   offers instead of assigning ([`Routed::Offered`]); the offer holds a place
//!   in the clinician's capacity until [`Router::accept`], [`Router::decline`]
//!   or [`Router::tick`] after it expires. A chat whose offer passed goes back
//!   to its place in the queue and is offered to the next best clinician, never
//!   straight back to one who let it pass. When nobody else can take it, a new
//!   round starts at the first tick one offer timeout after the last pass (in
//!   direct mode: at the next tick), so a chat cannot starve because its only
//!   capable clinician once declined.
//! * **Fallback** ([`Policy::fallback`]): a chat for skill S widens to S's
//!   fallback skills when no *available* clinician holds S (at routing or any
//!   later call), or when it has waited [`Policy::fallback_after_ms`] since
//!   `at_ms`. Widening is permanent for that chat and primary holders stay
//!   preferred.
//! * **Offline contact form** ([`Policy::offline_form`]): when nobody who could
//!   serve the chat (after fallback) is *online* (available or busy, since a
//!   busy clinician can still take it by hand), [`Router::route`] returns
//!   [`Routed::Offline`] and keeps nothing; [`Router::tick`] does the same for
//!   queued chats ([`Event::Offline`]), and also for chats that have waited
//!   [`Policy::offline_after_ms`]. Never for an urgent chat: it stays first in
//!   line for whoever comes online.
//! * **By hand**: [`Router::take`], [`Router::start`] and a transfer to a named
//!   clinician ignore presence, capacity, skills and licence: these are human
//!   decisions. Offline is allowed too, because the server rebuilds its router
//!   after a restart by taking chats for clinicians who are all still offline,
//!   and because a clinician acting in the console is by definition there.
//!   Chats taken by hand count in the load.
//! * **Team chat** between clinicians has no router state: it is not patient
//!   work waiting for a person, so it neither queues nor counts in the load.
//!   A chat a clinician opens with a known patient is patient work: it goes
//!   through [`Router::start`] and counts.
//! * **Translation**: [`translation_plan`] says when a clinician needs the
//!   patient's messages translated; the [`Translator`] trait is the seam for
//!   the model that does it. Routing prefers speakers through the language
//!   penalty, which [`Policy::translatable`] lowers for pairs the server can
//!   translate.
//!
//! The public structs keep their room to grow: router-owned fields are private
//! and the enums that new policies would extend are `#[non_exhaustive]`.
//! Every serialised field that is not an identity has a serde default, so
//! state written by an older version still loads.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

pub mod sim;
mod translate;

pub use translate::{TranslateError, Translator};

#[cfg(test)]
mod proptests;
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
    presence: Presence,
    #[serde(default)]
    open_chats: BTreeSet<String>,
    #[serde(default)]
    offered: BTreeSet<String>,
    #[serde(default)]
    last_assigned_at: Option<u64>,
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

    fn has_room(&self) -> bool {
        self.presence == Presence::Available && self.load() < self.max_chats
    }
}

/// Which messages need translating for this clinician to serve a patient who
/// writes `patient_language`: `Some((patient_language, clinician_language))`
/// when the clinician does not speak the patient's language fluently (not at
/// all, or only at [`Fluency::Basic`]) and speaks another language better,
/// which becomes the target (their strongest, the first listed among equals).
/// The reply goes the other way. `None` means no translation: they are fluent,
/// or they have no better language to translate into.
pub fn translation_plan(patient_language: &str, clinician: &Clinician) -> Option<(String, String)> {
    let theirs = clinician.level(patient_language);
    if theirs >= Some(Fluency::Fluent) {
        return None;
    }
    let best = strongest(clinician, patient_language).next()?;
    (Some(best.level) > theirs).then(|| (patient_language.to_owned(), best.code.clone()))
}

/// Like [`translation_plan`], but only with a target `translator` can handle
/// both ways (patient to clinician and back): the clinician's strongest such
/// language that is at least fluent. `None` when no translation is needed or
/// none is possible; compare with [`translation_plan`] to tell the two apart.
pub fn translation_plan_with(
    patient_language: &str,
    clinician: &Clinician,
    translator: &dyn Translator,
) -> Option<(String, String)> {
    translation_plan(patient_language, clinician)?;
    strongest(clinician, patient_language)
        .filter(|l| l.level >= Fluency::Fluent)
        .find(|l| {
            translator.supports(patient_language, &l.code)
                && translator.supports(&l.code, patient_language)
        })
        .map(|l| (patient_language.to_owned(), l.code.clone()))
}

/// The clinician's other languages, strongest first, list order among equals.
fn strongest<'a>(
    clinician: &'a Clinician,
    except: &'a str,
) -> impl Iterator<Item = &'a Language> + 'a {
    let mut langs: Vec<&Language> = clinician
        .languages
        .iter()
        .filter(|l| !l.code.eq_ignore_ascii_case(except))
        .collect();
    // Stable, so list order survives among equal levels.
    langs.sort_by_key(|l| std::cmp::Reverse(l.level));
    langs.into_iter()
}

/// Language penalties in units of one open chat: a clinician with penalty `p`
/// and `n` open chats costs the same as a native speaker with `n + p`. The
/// defaults make a speaker win unless they already have four more chats than
/// a non-speaker, which with the default capacity of 4 means always.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Weights {
    /// Speaks the patient's language only at [`Fluency::Basic`].
    pub basic_language: usize,
    /// Does not speak it, but the pair is in [`Policy::translatable`].
    pub translated_language: usize,
    /// Does not speak it and nothing can translate.
    pub no_language: usize,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            basic_language: 1,
            translated_language: 2,
            no_language: 4,
        }
    }
}

/// How the router behaves; everything defaults to the plain behaviour
/// (direct assignment, no fallback, no contact form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Policy {
    /// `None`: assign directly. `Some(ms)`: offer, and move the offer on if
    /// it is not accepted within `ms`.
    pub offer_timeout_ms: Option<u64>,
    /// Skill to the skills that may stand in for it, in no particular order
    /// (all holders of the primary skill are preferred to all of these).
    pub fallback: BTreeMap<String, Vec<String>>,
    /// Also fall back once a chat has waited this long, even though someone
    /// with the skill is available (they are all full). `None`: only when no
    /// available clinician has the skill.
    pub fallback_after_ms: Option<u64>,
    /// Fall back at once when no available clinician holds the skill
    /// (`true`, the default), or only after [`Policy::fallback_after_ms`]
    /// (`false`: the chat first waits for its own skill, in case its
    /// clinician is back from a break soon).
    pub fallback_when_unavailable: bool,
    /// Turn chats that nobody online could serve into the offline contact
    /// form ([`Routed::Offline`], [`Event::Offline`]) instead of queueing.
    pub offline_form: bool,
    /// With `offline_form`, also send a chat to the form after it has waited
    /// this long in the queue.
    pub offline_after_ms: Option<u64>,
    /// Language penalties in the scoring.
    pub weights: Weights,
    /// `(from, to)` pairs the server can translate both ways (lower-case
    /// codes); see [`Policy::allow_translation`].
    pub translatable: BTreeSet<(String, String)>,
    /// Wait estimates use departures from the queue in this recent window.
    pub estimate_window_ms: u64,
    /// ... and give no estimate with fewer than this many in the window.
    pub estimate_min_samples: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            offer_timeout_ms: None,
            fallback: BTreeMap::new(),
            fallback_after_ms: None,
            fallback_when_unavailable: true,
            offline_form: false,
            offline_after_ms: None,
            weights: Weights::default(),
            translatable: BTreeSet::new(),
            estimate_window_ms: 30 * 60 * 1000,
            estimate_min_samples: 5,
        }
    }
}

impl Policy {
    /// Offers time out after `ms`.
    pub fn with_offer_timeout_ms(mut self, ms: u64) -> Self {
        self.offer_timeout_ms = Some(ms);
        self
    }

    /// Chats for `skill` may fall back to holders of `fallbacks`.
    pub fn with_fallback<I, S>(mut self, skill: impl Into<String>, fallbacks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fallback.insert(
            skill.into(),
            fallbacks.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Falls back after waiting `ms` too.
    pub fn with_fallback_after_ms(mut self, ms: u64) -> Self {
        self.fallback_after_ms = Some(ms);
        self
    }

    /// Enables the offline contact form, optionally also after waiting `after_ms`.
    pub fn with_offline_form(mut self, after_ms: Option<u64>) -> Self {
        self.offline_form = true;
        self.offline_after_ms = after_ms;
        self
    }

    /// Records that messages can be translated between `a` and `b` (both
    /// ways), typically for each pair a [`Translator`] supports.
    pub fn allow_translation(&mut self, a: &str, b: &str) {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        self.translatable.insert((a.clone(), b.clone()));
        self.translatable.insert((b, a));
    }

    fn can_translate(&self, a: &str, b: &str) -> bool {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        self.translatable.contains(&(a.clone(), b.clone())) && self.translatable.contains(&(b, a))
    }

    fn language_penalty(&self, c: &Clinician, language: &str) -> usize {
        match c.level(language) {
            Some(Fluency::Native | Fluency::Fluent) => 0,
            Some(Fluency::Basic) => self.weights.basic_language,
            None if c
                .languages
                .iter()
                .any(|l| l.level >= Fluency::Fluent && self.can_translate(language, &l.code)) =>
            {
                self.weights.translated_language
            }
            None => self.weights.no_language,
        }
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
    /// A state the clinician must be licensed in, such as `"CA"`.
    #[serde(default)]
    pub license_state: Option<String>,
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
            license_state: None,
            urgent: false,
            at_ms,
        }
    }

    /// Only holders of `skill` (or its fallbacks) may get it automatically.
    pub fn with_skill(mut self, skill: impl Into<String>) -> Self {
        self.skill = Some(skill.into());
        self
    }

    /// Urgent chats go ahead of all others.
    pub fn with_urgent(mut self, urgent: bool) -> Self {
        self.urgent = urgent;
        self
    }

    /// Only clinicians licensed in `state` may get it automatically; fallback
    /// never relaxes this.
    pub fn with_license_state(mut self, state: impl Into<String>) -> Self {
        self.license_state = Some(state.into());
        self
    }
}

/// What `route` did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Routed {
    /// The chat is this clinician's now.
    Assigned(ClinicianId),
    /// 1 = next in line.
    Queued { position: usize },
    /// Offered to `clinician` until `expires_at` (ms); see [`Router::accept`].
    Offered {
        clinician: ClinicianId,
        expires_at: u64,
    },
    /// Nobody who could serve the chat is online and the policy has the
    /// offline contact form: the router keeps nothing, the server keeps the
    /// patient's message and tells staff.
    Offline,
}

/// A chat the router has just handed to a clinician (or offered to them), so
/// the caller can tell both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Assignment {
    pub conversation: String,
    pub clinician: ClinicianId,
    /// `None`: assigned. `Some(t)`: only offered, until `t`; the chat becomes
    /// theirs on [`Router::accept`]. Always `None` without an offer timeout.
    #[serde(default)]
    pub offer_expires_at: Option<u64>,
}

/// Something [`Router::tick`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An offer ran out; the chat went back to the queue (and may appear in a
    /// following `Assigned` for someone else).
    OfferExpired {
        conversation: String,
        clinician: ClinicianId,
    },
    /// A queued chat was assigned or offered.
    Assigned(Assignment),
    /// A queued chat went to the offline contact form and left the router.
    Offline { conversation: String },
}

/// A pending offer, as [`Router::offer`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Offer {
    pub conversation: String,
    pub clinician: ClinicianId,
    pub expires_at: u64,
}

/// Where [`Router::transfer`] sends a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransferTarget {
    /// Straight to this colleague, by hand: presence and capacity do not
    /// matter (they agreed, or will hand it on).
    Clinician(ClinicianId),
    /// Back to the queue for this skill group, ahead of chats nobody has
    /// helped yet, and routed as usual; not back to the sender (or to whoever
    /// it was offered to) automatically while someone else could take it.
    Skill(String),
}

/// What a transfer did. The note is staff-only: the server stores it where
/// the patient cannot see it; the router does not keep it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transfer {
    pub conversation: String,
    /// Who had it, `None` if it was waiting.
    pub from: Option<ClinicianId>,
    pub to: TransferTarget,
    pub note: Option<String>,
    /// Where the chat is now.
    pub outcome: Routed,
    /// Other queued chats that the freed place let the router hand out.
    pub others: Vec<Assignment>,
}

/// How long a queued patient may still wait, and on what basis.
///
/// Method: the router remembers when chats of each skill (or of no skill)
/// last left the queue for a clinician (automatic assignment, accepted offer,
/// or taken by hand from the queue). Over the window
/// [`Policy::estimate_window_ms`] ending now, `n` such departures since the
/// oldest one at `t0` give a service rate of `n / (now - t0)`. The estimate is
/// `(ahead + 1)` chats at that rate, where `ahead` counts queued chats of the
/// same skill before this one. No estimate (`None`) when fewer than
/// [`Policy::estimate_min_samples`] departures fall in the window, or when no
/// available clinician could serve the chat now: the past rate is then no
/// guide. Chats of other skills are ignored, which is wrong only when they
/// compete for the same clinicians.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WaitEstimate {
    /// 1-based place in the whole queue, as [`Router::position`].
    pub position: usize,
    /// Queued chats of the same skill ahead of this one.
    pub ahead: usize,
    pub estimate_ms: u64,
    /// Departures the rate is based on.
    pub samples: usize,
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
    pub license_state: Option<String>,
    #[serde(default)]
    pub urgent: bool,
    pub at_ms: u64,
    /// Set when the chat had a clinician who was removed or who transferred
    /// it to a skill group. Such a patient was already being helped, so they
    /// go ahead of everyone of the same urgency who has not been helped yet.
    #[serde(default)]
    pub requeued: bool,
    /// The chat may now go to holders of its skill's fallback skills.
    #[serde(default)]
    pub fallen_back: bool,
    /// Breaks ties between equal `at_ms` by insertion order, so the order is
    /// total and the same on every node.
    #[serde(default)]
    seq: u64,
    /// Clinicians who let this chat's offer pass (declined, expired,
    /// withdrawn) in the current round, or who transferred it away.
    #[serde(default)]
    passed: BTreeSet<ClinicianId>,
    #[serde(default)]
    last_pass_at: Option<u64>,
}

impl QueuedChat {
    /// The whole queue order in one place: urgent first, then requeued, then
    /// oldest arrival, then insertion order.
    fn order_key(&self) -> (bool, bool, u64, u64) {
        (!self.urgent, !self.requeued, self.at_ms, self.seq)
    }

    fn skill_key(&self) -> &str {
        self.skill.as_deref().unwrap_or(ANY_SKILL)
    }

    /// 0 = primary skill (or none asked), 1 = fallback skill; `None` if the
    /// clinician cannot serve the chat at all. Presence and capacity aside.
    fn tier(&self, c: &Clinician, policy: &Policy) -> Option<u8> {
        if let Some(state) = &self.license_state
            && !c.licensed_in(state)
        {
            return None;
        }
        let Some(skill) = &self.skill else {
            return Some(0);
        };
        if c.has_skill(skill) {
            return Some(0);
        }
        let falls_back = self.fallen_back
            && policy
                .fallback
                .get(skill)
                .is_some_and(|fs| fs.iter().any(|f| c.has_skill(f)));
        falls_back.then_some(1)
    }
}

/// Key of the departure statistics for chats that ask for no skill.
const ANY_SKILL: &str = "*";
/// Departures remembered per skill for wait estimates.
const DEPARTURES_KEPT: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Assigned {
    clinician: ClinicianId,
    /// Kept whole so that removing the clinician can requeue the chat with
    /// its original urgency, arrival time and insertion order.
    ticket: QueuedChat,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    clinician: ClinicianId,
    expires_at: u64,
    ticket: QueuedChat,
}

/// Why a call was refused. A refused call changes nothing.
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
    /// Someone else holds an offer for this chat; it is theirs to accept
    /// until it expires.
    #[error("conversation {conversation} is offered to clinician {offered_to}")]
    Offered {
        conversation: String,
        offered_to: ClinicianId,
    },
    /// Accept or decline of a chat that is not offered to this clinician.
    #[error("conversation {conversation} is not offered to clinician {clinician}")]
    NotOffered {
        conversation: String,
        clinician: ClinicianId,
    },
    /// The offer ran out before it was accepted; the next [`Router::tick`]
    /// moves it on.
    #[error("the offer of conversation {conversation} expired at {expired_at}")]
    OfferExpired {
        conversation: String,
        expired_at: u64,
    },
}

/// All routing state: the policy, clinicians, the queue, pending offers, who
/// has which chat, and the recent departures behind wait estimates.
///
/// Every method either succeeds or returns an error without changing
/// anything. After every call no queued chat could be taken automatically by
/// any clinician: whenever capacity may have appeared, the queue is handed
/// out again in order. Rules that depend only on time passing (offer expiry,
/// falling back or going to the contact form after a wait, a new offer round)
/// take effect in [`Router::tick`], which the server calls every second or so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Router {
    policy: Policy,
    clinicians: BTreeMap<ClinicianId, Clinician>,
    /// Always sorted by `QueuedChat::order_key`.
    queue: Vec<QueuedChat>,
    /// Mirrors each clinician's `open_chats`; kept alongside because it holds
    /// the ticket needed to requeue a chat.
    assigned: BTreeMap<String, Assigned>,
    /// Mirrors each clinician's `offered`.
    offers: BTreeMap<String, Pending>,
    /// Per skill key, when chats last left the queue for a clinician.
    departures: BTreeMap<String, VecDeque<u64>>,
    next_seq: u64,
}

impl Router {
    /// An empty router with the default [`Policy`] (direct assignment).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty router with `policy`.
    pub fn with_policy(policy: Policy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the policy. Pending offers keep their expiry. A new policy can
    /// widen who may serve a queued chat, so the queue is handed out again.
    pub fn set_policy(&mut self, policy: Policy, now_ms: u64) -> Vec<Assignment> {
        self.policy = policy;
        self.drain(now_ms)
    }

    /// Assigns (or offers) the chat to the best clinician who can take it now,
    /// queues it, or, with the contact form on and nobody online to serve it,
    /// answers [`Routed::Offline`] and keeps nothing. See the crate docs for
    /// what "best" means. `at_ms` of the request is taken as now.
    pub fn route(&mut self, req: Request) -> Result<Routed, RouteError> {
        if self.is_known(&req.conversation) {
            return Err(RouteError::AlreadyRouted(req.conversation));
        }
        let now_ms = req.at_ms;
        let mut ticket = self.ticket(req);
        ticket.fallen_back =
            self.policy.fallback_when_unavailable && self.lacks_available_primary(&ticket, None);
        // An urgent chat never goes to the contact form: the patient already
        // has the emergency reply, and the chat must be first in line for
        // whoever comes online.
        if self.policy.offline_form && !ticket.urgent && !self.anyone_online_for(&ticket) {
            return Ok(Routed::Offline);
        }
        match self.best_among(self.clinicians.keys().copied(), &ticket, true) {
            Some(id) => {
                let a = self.place(id, ticket, now_ms);
                Ok(match a.offer_expires_at {
                    Some(expires_at) => Routed::Offered {
                        clinician: id,
                        expires_at,
                    },
                    None => Routed::Assigned(id),
                })
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
    /// double click is harmless; taking a chat offered to oneself accepts the
    /// offer (even if it has just expired), and one offered to someone else is
    /// refused with [`RouteError::Offered`].
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
        if let Some(p) = self.offers.get(conversation) {
            if p.clinician != clinician {
                return Err(RouteError::Offered {
                    conversation: conversation.to_owned(),
                    offered_to: p.clinician,
                });
            }
            self.accept_unchecked(conversation, now_ms);
            return Ok(());
        }
        let index = self
            .queue_index(conversation)
            .ok_or_else(|| RouteError::UnknownConversation(conversation.to_owned()))?;
        let ticket = self.queue.remove(index);
        self.record_departure(ticket.skill_key(), now_ms);
        self.attach(clinician, ticket, now_ms);
        Ok(())
    }

    /// A clinician opens a chat with a known patient from the console. The
    /// chat is theirs at once, whatever their presence and capacity, and
    /// counts in their load; it never queues.
    pub fn start(
        &mut self,
        req: Request,
        clinician: ClinicianId,
        now_ms: u64,
    ) -> Result<(), RouteError> {
        if !self.clinicians.contains_key(&clinician) {
            return Err(RouteError::UnknownClinician(clinician));
        }
        if self.is_known(&req.conversation) {
            return Err(RouteError::AlreadyRouted(req.conversation));
        }
        let ticket = self.ticket(req);
        self.attach(clinician, ticket, now_ms);
        Ok(())
    }

    /// The offered clinician accepts: the chat is theirs. Accepting a chat one
    /// already has succeeds and changes nothing. Refused after `expires_at`
    /// even if no tick has moved the offer on yet, so that the outcome does not
    /// depend on when the server ticks.
    pub fn accept(
        &mut self,
        conversation: &str,
        clinician: ClinicianId,
        now_ms: u64,
    ) -> Result<(), RouteError> {
        let p = self.offer_for(conversation, clinician)?;
        let Some(expires_at) = p else {
            return Ok(());
        };
        if now_ms >= expires_at {
            return Err(RouteError::OfferExpired {
                conversation: conversation.to_owned(),
                expired_at: expires_at,
            });
        }
        self.accept_unchecked(conversation, now_ms);
        Ok(())
    }

    /// The offered clinician declines: the chat goes back to its place in the
    /// queue and is offered to the next best clinician, not to this one again
    /// in this round. Returns the offers and assignments that follow.
    pub fn decline(
        &mut self,
        conversation: &str,
        clinician: ClinicianId,
        now_ms: u64,
    ) -> Result<Vec<Assignment>, RouteError> {
        match self.offer_for(conversation, clinician)? {
            Some(_) => {
                self.pass(conversation, now_ms);
                Ok(self.drain(now_ms))
            }
            None => Err(RouteError::NotOffered {
                conversation: conversation.to_owned(),
                clinician,
            }),
        }
    }

    /// Applies the rules that depend on time alone, in this order: offers
    /// that expired by `now_ms` go back to the queue; chats that have waited
    /// [`Policy::fallback_after_ms`] fall back; chats whose every capable
    /// clinician has let them pass start a new round once an offer timeout has
    /// gone by since the last pass; the queue is handed out; then, with the
    /// contact form on, chats nobody online could serve (or that waited
    /// [`Policy::offline_after_ms`]) leave for the form.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Event> {
        let mut events = Vec::new();
        let expired: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, p)| p.expires_at <= now_ms)
            .map(|(c, _)| c.clone())
            .collect();
        for conversation in expired {
            if let Some(clinician) = self.pass(&conversation, now_ms) {
                events.push(Event::OfferExpired {
                    conversation,
                    clinician,
                });
            }
        }

        if let Some(after) = self.policy.fallback_after_ms {
            for t in &mut self.queue {
                if let Some(skill) = &t.skill
                    && self.policy.fallback.contains_key(skill)
                    && now_ms >= t.at_ms.saturating_add(after)
                {
                    t.fallen_back = true;
                }
            }
        }
        self.refresh_fallbacks();
        let restart_after = self.policy.offer_timeout_ms.unwrap_or(0);
        let restart: Vec<usize> = (0..self.queue.len())
            .filter(|&i| {
                let t = &self.queue[i];
                !t.passed.is_empty()
                    && t.last_pass_at
                        .is_none_or(|p| now_ms >= p.saturating_add(restart_after))
                    && self
                        .best_among(self.clinicians.keys().copied(), t, true)
                        .is_none()
                    && self
                        .best_among(self.clinicians.keys().copied(), t, false)
                        .is_some()
            })
            .collect();
        for i in restart {
            self.queue[i].passed.clear();
        }
        events.extend(self.drain(now_ms).into_iter().map(Event::Assigned));

        if self.policy.offline_form {
            let mut kept = Vec::with_capacity(self.queue.len());
            for t in std::mem::take(&mut self.queue) {
                let waited_out = self
                    .policy
                    .offline_after_ms
                    .is_some_and(|after| now_ms >= t.at_ms.saturating_add(after));
                if !t.urgent && (waited_out || !self.anyone_online_for(&t)) {
                    events.push(Event::Offline {
                        conversation: t.conversation,
                    });
                } else {
                    kept.push(t);
                }
            }
            self.queue = kept;
        }
        events
    }

    /// The chat is over: it leaves the queue, its offer or its clinician. If
    /// that freed a place, queued chats are handed out; those assignments are
    /// returned.
    pub fn release(
        &mut self,
        conversation: &str,
        now_ms: u64,
    ) -> Result<Vec<Assignment>, RouteError> {
        if let Some(index) = self.queue_index(conversation) {
            self.queue.remove(index);
            return Ok(Vec::new());
        }
        if let Some(p) = self.offers.remove(conversation) {
            if let Some(c) = self.clinicians.get_mut(&p.clinician) {
                c.offered.remove(conversation);
            }
            return Ok(self.drain(now_ms));
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

    /// Hands a chat to a colleague or to a skill group, with a staff-only
    /// note that the router returns and does not keep. Works for an assigned,
    /// offered or queued chat; see [`TransferTarget`] for where it goes.
    pub fn transfer(
        &mut self,
        conversation: &str,
        to: TransferTarget,
        note: Option<String>,
        now_ms: u64,
    ) -> Result<Transfer, RouteError> {
        if let TransferTarget::Clinician(id) = &to
            && !self.clinicians.contains_key(id)
        {
            return Err(RouteError::UnknownClinician(*id));
        }
        if !self.is_known(conversation) {
            return Err(RouteError::UnknownConversation(conversation.to_owned()));
        }
        let (from, offered_to, mut ticket) = self.detach(conversation);
        let (outcome, others) = match &to {
            TransferTarget::Clinician(id) => {
                self.attach(*id, ticket, now_ms);
                (Routed::Assigned(*id), self.drain(now_ms))
            }
            TransferTarget::Skill(skill) => {
                ticket.skill = Some(skill.clone());
                ticket.fallen_back = false;
                ticket.passed.clear();
                if from.is_some() {
                    ticket.requeued = true;
                }
                // Neither the sender nor someone whose offer was cut short
                // gets it straight back.
                if let Some(id) = from.or(offered_to) {
                    ticket.passed.insert(id);
                    ticket.last_pass_at = Some(now_ms);
                }
                self.enqueue(ticket);
                let mut all = self.drain(now_ms);
                all.retain(|a| a.conversation != conversation);
                let outcome = self
                    .outcome(conversation)
                    .expect("a transferred chat is queued, offered or assigned");
                (outcome, all)
            }
        };
        Ok(Transfer {
            conversation: conversation.to_owned(),
            from,
            to,
            note,
            outcome,
            others,
        })
    }

    /// Changes a clinician's presence. Becoming available hands them the
    /// queued chats they can serve, urgent and oldest first, up to their
    /// capacity. Going busy, away or offline keeps their open chats (the
    /// patients are mid-conversation and the clinician is still responsible
    /// for them) but withdraws their pending offers, which move on at once as
    /// if declined; the resulting assignments are returned.
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
        if presence != Presence::Available {
            let offered: Vec<String> = c.offered.iter().cloned().collect();
            for conversation in offered {
                self.pass(&conversation, now_ms);
            }
        }
        Ok(self.drain(now_ms))
    }

    /// Adds a clinician or replaces their profile (name, skills, languages,
    /// licensed states, capacity).
    ///
    /// Presence, open chats, offers and last assignment time in `profile` are
    /// ignored: the router owns them, and taking them from a possibly stale
    /// copy could claim chats the queue knows nothing about. A new clinician
    /// starts offline. A profile change can let the clinician serve queued
    /// chats (a new skill, more capacity), so the assignments that follow are
    /// returned. Lowering `max_chats` below the load takes nothing away.
    pub fn upsert_clinician(&mut self, profile: Clinician, now_ms: u64) -> Vec<Assignment> {
        // Destructured field by field so that a new profile field fails to
        // compile here until someone decides whether upsert copies it.
        let Clinician {
            id,
            display_name,
            skills,
            languages,
            licensed_states,
            max_chats,
            presence: _,
            open_chats: _,
            offered: _,
            last_assigned_at: _,
        } = profile;
        let c = self
            .clinicians
            .entry(id)
            .or_insert_with(|| Clinician::new(id, String::new()));
        c.display_name = display_name;
        c.skills = skills;
        c.languages = languages;
        c.licensed_states = licensed_states;
        c.max_chats = max_chats;
        self.drain(now_ms)
    }

    /// Removes a clinician. Their open chats go back to the front of the queue
    /// (after urgent chats if they are not urgent themselves), their pending
    /// offers back to their place in it, and all are then handed to the other
    /// clinicians like any queued chat. Returns where each of those chats
    /// ended up, in queue order, so the caller can tell the patients.
    pub fn remove_clinician(
        &mut self,
        clinician: ClinicianId,
        now_ms: u64,
    ) -> Result<Vec<(String, Routed)>, RouteError> {
        let removed = self
            .clinicians
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
        tickets.extend(
            removed
                .offered
                .iter()
                .filter_map(|conversation| self.offers.remove(conversation))
                .map(|p| p.ticket),
        );
        tickets.sort_by_key(QueuedChat::order_key);
        let conversations: Vec<String> = tickets.iter().map(|t| t.conversation.clone()).collect();
        for ticket in tickets {
            self.enqueue(ticket);
        }
        self.drain(now_ms);
        Ok(conversations
            .into_iter()
            .map(|conversation| {
                let routed = self
                    .outcome(&conversation)
                    .expect("a requeued chat is queued, offered or assigned");
                (conversation, routed)
            })
            .collect())
    }

    /// The waiting chats in the order they will be served (offered chats are
    /// not in it: see [`Router::offers`]).
    pub fn queue(&self) -> Vec<QueuedChat> {
        self.queue.clone()
    }

    /// 1-based place in the queue, `None` if not queued.
    pub fn position(&self, conversation: &str) -> Option<usize> {
        self.queue_index(conversation).map(|i| i + 1)
    }

    /// Who has the chat, `None` if it is queued, offered or unknown.
    pub fn assignee(&self, conversation: &str) -> Option<ClinicianId> {
        self.assigned.get(conversation).map(|a| a.clinician)
    }

    /// The pending offer of this chat, if any.
    pub fn offer(&self, conversation: &str) -> Option<Offer> {
        self.offers.get(conversation).map(|p| Offer {
            conversation: conversation.to_owned(),
            clinician: p.clinician,
            expires_at: p.expires_at,
        })
    }

    /// All pending offers, by conversation id.
    pub fn offers(&self) -> Vec<Offer> {
        self.offers.keys().filter_map(|c| self.offer(c)).collect()
    }

    /// Where the chat is: assigned, offered or queued; `None` if unknown.
    pub fn outcome(&self, conversation: &str) -> Option<Routed> {
        if let Some(a) = self.assigned.get(conversation) {
            return Some(Routed::Assigned(a.clinician));
        }
        if let Some(p) = self.offers.get(conversation) {
            return Some(Routed::Offered {
                clinician: p.clinician,
                expires_at: p.expires_at,
            });
        }
        self.position(conversation)
            .map(|position| Routed::Queued { position })
    }

    /// An honest guess at how long a queued chat will still wait; see
    /// [`WaitEstimate`] for the method and when it declines to guess.
    pub fn wait_estimate(&self, conversation: &str, now_ms: u64) -> Option<WaitEstimate> {
        let index = self.queue_index(conversation)?;
        let t = &self.queue[index];
        let key = t.skill_key();
        let ahead = self.queue[..index]
            .iter()
            .filter(|q| q.skill_key() == key)
            .count();
        let someone_serves = self
            .clinicians
            .values()
            .any(|c| c.presence == Presence::Available && t.tier(c, &self.policy).is_some());
        if !someone_serves {
            return None;
        }
        let since = now_ms.saturating_sub(self.policy.estimate_window_ms);
        let recent: Vec<u64> = self
            .departures
            .get(key)?
            .iter()
            .copied()
            .filter(|&d| d >= since && d <= now_ms)
            .collect();
        let samples = recent.len();
        let oldest = *recent.iter().min()?;
        let span = now_ms - oldest;
        if samples < self.policy.estimate_min_samples.max(1) || span == 0 {
            return None;
        }
        let estimate = (ahead as u128 + 1) * u128::from(span) / samples as u128;
        Some(WaitEstimate {
            position: index + 1,
            ahead,
            estimate_ms: u64::try_from(estimate).unwrap_or(u64::MAX),
            samples,
        })
    }

    /// One clinician by id.
    pub fn clinician(&self, id: ClinicianId) -> Option<&Clinician> {
        self.clinicians.get(&id)
    }

    /// All clinicians in id order.
    pub fn clinicians(&self) -> impl Iterator<Item = &Clinician> {
        self.clinicians.values()
    }

    fn ticket(&mut self, req: Request) -> QueuedChat {
        let Request {
            conversation,
            skill,
            language,
            license_state,
            urgent,
            at_ms,
        } = req;
        let seq = self.next_seq;
        self.next_seq += 1;
        QueuedChat {
            conversation,
            skill,
            language,
            license_state,
            urgent,
            at_ms,
            requeued: false,
            fallen_back: false,
            seq,
            passed: BTreeSet::new(),
            last_pass_at: None,
        }
    }

    fn is_known(&self, conversation: &str) -> bool {
        self.assigned.contains_key(conversation)
            || self.offers.contains_key(conversation)
            || self.queue_index(conversation).is_some()
    }

    fn queue_index(&self, conversation: &str) -> Option<usize> {
        self.queue
            .iter()
            .position(|q| q.conversation == conversation)
    }

    /// `Ok(Some(expiry))` if offered to `clinician`, `Ok(None)` if already
    /// theirs, otherwise the error accept and decline share.
    fn offer_for(
        &self,
        conversation: &str,
        clinician: ClinicianId,
    ) -> Result<Option<u64>, RouteError> {
        if let Some(p) = self.offers.get(conversation) {
            return if p.clinician == clinician {
                Ok(Some(p.expires_at))
            } else {
                Err(RouteError::NotOffered {
                    conversation: conversation.to_owned(),
                    clinician,
                })
            };
        }
        match self.assigned.get(conversation) {
            Some(a) if a.clinician == clinician => Ok(None),
            Some(a) => Err(RouteError::Conflict {
                conversation: conversation.to_owned(),
                assigned_to: a.clinician,
            }),
            None if self.queue_index(conversation).is_some() => Err(RouteError::NotOffered {
                conversation: conversation.to_owned(),
                clinician,
            }),
            None => Err(RouteError::UnknownConversation(conversation.to_owned())),
        }
    }

    fn accept_unchecked(&mut self, conversation: &str, now_ms: u64) {
        let Some(p) = self.offers.remove(conversation) else {
            return;
        };
        if let Some(c) = self.clinicians.get_mut(&p.clinician) {
            c.offered.remove(conversation);
        }
        self.record_departure(p.ticket.skill_key(), now_ms);
        self.attach(p.clinician, p.ticket, now_ms);
    }

    /// The offer of `conversation` passes (declined, expired or withdrawn): the
    /// chat goes back to its place in the queue, remembering who passed.
    fn pass(&mut self, conversation: &str, now_ms: u64) -> Option<ClinicianId> {
        let mut p = self.offers.remove(conversation)?;
        if let Some(c) = self.clinicians.get_mut(&p.clinician) {
            c.offered.remove(conversation);
        }
        p.ticket.passed.insert(p.clinician);
        p.ticket.last_pass_at = Some(now_ms);
        self.enqueue(p.ticket);
        Some(p.clinician)
    }

    /// Takes a known chat out of wherever it is; returns who had it and to
    /// whom it was offered.
    fn detach(
        &mut self,
        conversation: &str,
    ) -> (Option<ClinicianId>, Option<ClinicianId>, QueuedChat) {
        if let Some(a) = self.assigned.remove(conversation) {
            if let Some(c) = self.clinicians.get_mut(&a.clinician) {
                c.open_chats.remove(conversation);
            }
            return (Some(a.clinician), None, a.ticket);
        }
        if let Some(p) = self.offers.remove(conversation) {
            if let Some(c) = self.clinicians.get_mut(&p.clinician) {
                c.offered.remove(conversation);
            }
            return (None, Some(p.clinician), p.ticket);
        }
        let index = self
            .queue_index(conversation)
            .expect("detach is only called for known chats");
        (None, None, self.queue.remove(index))
    }

    /// The best of `candidates` who can take `ticket` automatically now; see
    /// the crate docs for the order. `respect_passed` leaves out those who let
    /// it pass this round.
    fn best_among(
        &self,
        candidates: impl Iterator<Item = ClinicianId>,
        ticket: &QueuedChat,
        respect_passed: bool,
    ) -> Option<ClinicianId> {
        candidates
            .filter_map(|id| {
                let c = self.clinicians.get(&id)?;
                if !c.has_room() || (respect_passed && ticket.passed.contains(&id)) {
                    return None;
                }
                let tier = ticket.tier(c, &self.policy)?;
                let penalty = self.policy.language_penalty(c, &ticket.language);
                Some((
                    (tier, c.load() + penalty, penalty, c.last_assigned_at, c.id),
                    id,
                ))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, id)| id)
    }

    /// Nobody available holds the chat's primary skill (with its licence),
    /// and the skill has fallbacks. `skills` is the set of skills held by
    /// available clinicians, when the caller has it.
    fn lacks_available_primary(
        &self,
        ticket: &QueuedChat,
        skills: Option<&BTreeSet<&str>>,
    ) -> bool {
        let Some(skill) = ticket.skill.as_deref() else {
            return false;
        };
        if ticket.fallen_back {
            return true;
        }
        if !self.policy.fallback.contains_key(skill) {
            return false;
        }
        if let (Some(skills), None) = (skills, &ticket.license_state) {
            return !skills.contains(skill);
        }
        !self
            .clinicians
            .values()
            .any(|c| c.presence == Presence::Available && ticket.tier(c, &self.policy) == Some(0))
    }

    fn refresh_fallbacks(&mut self) {
        if self.policy.fallback.is_empty() || !self.policy.fallback_when_unavailable {
            return;
        }
        let skills: BTreeSet<&str> = self
            .clinicians
            .values()
            .filter(|c| c.presence == Presence::Available)
            .flat_map(|c| c.skills.iter().map(String::as_str))
            .collect();
        let falling: Vec<usize> = (0..self.queue.len())
            .filter(|&i| {
                !self.queue[i].fallen_back
                    && self.lacks_available_primary(&self.queue[i], Some(&skills))
            })
            .collect();
        for i in falling {
            self.queue[i].fallen_back = true;
        }
    }

    /// Whether someone online could serve the chat, now or once it falls
    /// back: a chat that will reach the front desk is not for the contact form.
    fn anyone_online_for(&self, ticket: &QueuedChat) -> bool {
        let widened = QueuedChat {
            fallen_back: true,
            ..ticket.clone()
        };
        self.clinicians
            .values()
            .any(|c| c.presence.is_online() && widened.tier(c, &self.policy).is_some())
    }

    /// Inserts in order and returns the 1-based position.
    fn enqueue(&mut self, ticket: QueuedChat) -> usize {
        let key = ticket.order_key();
        let index = self.queue.partition_point(|q| q.order_key() <= key);
        self.queue.insert(index, ticket);
        index + 1
    }

    fn record_departure(&mut self, skill_key: &str, now_ms: u64) {
        let d = self.departures.entry(skill_key.to_owned()).or_default();
        d.push_back(now_ms);
        while d.len() > DEPARTURES_KEPT {
            d.pop_front();
        }
    }

    /// Hands `ticket` to `clinician` automatically: an offer if the policy has
    /// a timeout, otherwise an assignment.
    fn place(&mut self, clinician: ClinicianId, ticket: QueuedChat, now_ms: u64) -> Assignment {
        let conversation = ticket.conversation.clone();
        let Some(timeout) = self.policy.offer_timeout_ms else {
            self.record_departure(ticket.skill_key(), now_ms);
            self.attach(clinician, ticket, now_ms);
            return Assignment {
                conversation,
                clinician,
                offer_expires_at: None,
            };
        };
        let Some(c) = self.clinicians.get_mut(&clinician) else {
            self.enqueue(ticket);
            return Assignment {
                conversation,
                clinician,
                offer_expires_at: None,
            };
        };
        let expires_at = now_ms.saturating_add(timeout);
        c.offered.insert(conversation.clone());
        // Stamped at the offer so that whoever was just offered a chat goes to
        // the back among equals, accepted or not.
        c.last_assigned_at = Some(c.last_assigned_at.map_or(now_ms, |t| t.max(now_ms)));
        self.offers.insert(
            conversation.clone(),
            Pending {
                clinician,
                expires_at,
                ticket,
            },
        );
        Assignment {
            conversation,
            clinician,
            offer_expires_at: Some(expires_at),
        }
    }

    fn attach(&mut self, clinician: ClinicianId, mut ticket: QueuedChat, now_ms: u64) {
        let Some(c) = self.clinicians.get_mut(&clinician) else {
            // Callers look the clinician up first; should that ever change,
            // a patient left waiting is better than a patient lost.
            self.enqueue(ticket);
            return;
        };
        ticket.passed.clear();
        ticket.last_pass_at = None;
        c.open_chats.insert(ticket.conversation.clone());
        // Max, because stamps may come from server nodes with skewed clocks
        // and an older one must not make a busy clinician look idle.
        c.last_assigned_at = Some(c.last_assigned_at.map_or(now_ms, |t| t.max(now_ms)));
        self.assigned
            .insert(ticket.conversation.clone(), Assigned { clinician, ticket });
    }

    /// Hands the queue out, in order, to whoever can take each chat now. Runs
    /// after anything that might have made room, and over all clinicians
    /// rather than the one who changed so that the "nothing queued could be
    /// assigned" guarantee holds even for state loaded from elsewhere. Only
    /// clinicians with room are looked at, which keeps a long queue cheap when
    /// most clinicians are full.
    fn drain(&mut self, now_ms: u64) -> Vec<Assignment> {
        self.refresh_fallbacks();
        let mut free: Vec<ClinicianId> = self
            .clinicians
            .values()
            .filter(|c| c.has_room())
            .map(|c| c.id)
            .collect();
        let mut assignments = Vec::new();
        let mut index = 0;
        while index < self.queue.len() && !free.is_empty() {
            match self.best_among(free.iter().copied(), &self.queue[index], true) {
                Some(clinician) => {
                    let ticket = self.queue.remove(index);
                    assignments.push(self.place(clinician, ticket, now_ms));
                    if !self
                        .clinicians
                        .get(&clinician)
                        .is_some_and(Clinician::has_room)
                    {
                        free.retain(|&f| f != clinician);
                    }
                }
                None => index += 1,
            }
        }
        assignments
    }
}

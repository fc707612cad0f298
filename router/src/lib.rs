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
//!
//! # The modules
//!
//! One module per concern. Each imports only from modules above it in this
//! list, so there are no cycles; the public types are re-exported here under
//! their own names.
//!
//! * `clinicians`: who the clinicians are, their presence and their load.
//! * `queue`: the request, the ticket a chat keeps while the router knows
//!   it, and the queue order; the wait estimate a patient is shown.
//! * `policy`: the [`Policy`] and the rules it tunes: who may serve a chat
//!   (skills, fallback skills, licences), the language penalty, and the
//!   choice of the best clinician.
//! * `translate`: when a clinician needs the patient's messages translated,
//!   and the [`Translator`] seam.
//! * `router`: the [`Router`] state, what its calls answer, routing a chat,
//!   taking, starting and releasing it, and the bookkeeping the other calls
//!   share (the drain that hands the queue out).
//! * `offers`: offers, accepting and declining them, [`Router::tick`] (offer
//!   timeouts, fallback after a wait, new rounds, the contact form), and
//!   transfers.
//! * `roster`: clinicians' presence, profiles and removal.
//! * [`sim`]: the seeded workload simulation, which uses only the public API.

mod clinicians;
mod offers;
mod policy;
mod queue;
mod roster;
mod router;
pub mod sim;
mod translate;

pub use clinicians::{Clinician, ClinicianId, Fluency, Language, Presence};
pub use offers::{Event, Offer, Transfer, TransferTarget};
pub use policy::{Policy, Weights};
pub use queue::{QueuedChat, Request, WaitEstimate};
pub use router::{Assignment, RouteError, Routed, Router};
pub use translate::{TranslateError, Translator, translation_plan, translation_plan_with};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod simulation;
#[cfg(test)]
mod tests;

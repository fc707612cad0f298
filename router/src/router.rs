//! The [`Router`]: all routing state in one serde value, what its calls
//! answer ([`Routed`], [`Assignment`], [`RouteError`]), and the calls by
//! which a chat arrives ([`Router::route`]), is taken or started by hand, and
//! ends ([`Router::release`]). It also keeps the bookkeeping every call
//! shares: tickets, the sorted queue, who has what, departures for wait
//! estimates, and the drain that hands the queue out whenever room may have
//! appeared. Offers and the rules of time live in `offers.rs`, clinicians
//! coming and going in `roster.rs`; both build on the bookkeeping here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::clinicians::{Clinician, ClinicianId, Presence};
use crate::policy::Policy;
use crate::queue::{QueuedChat, Request, WaitEstimate};

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

/// Departures remembered per skill for wait estimates.
const DEPARTURES_KEPT: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Assigned {
    pub(crate) clinician: ClinicianId,
    /// Kept whole so that removing the clinician can requeue the chat with
    /// its original urgency, arrival time and insertion order.
    pub(crate) ticket: QueuedChat,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) clinician: ClinicianId,
    pub(crate) expires_at: u64,
    pub(crate) ticket: QueuedChat,
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
    pub(crate) policy: Policy,
    pub(crate) clinicians: BTreeMap<ClinicianId, Clinician>,
    /// Always sorted by `QueuedChat::order_key`.
    pub(crate) queue: Vec<QueuedChat>,
    /// Mirrors each clinician's `open_chats`; kept alongside because it holds
    /// the ticket needed to requeue a chat.
    pub(crate) assigned: BTreeMap<String, Assigned>,
    /// Mirrors each clinician's `offered`.
    pub(crate) offers: BTreeMap<String, Pending>,
    /// Per skill key, when chats last left the queue for a clinician.
    pub(crate) departures: BTreeMap<String, VecDeque<u64>>,
    pub(crate) next_seq: u64,
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
        ticket.fallen_back = self.policy.fallback_when_unavailable
            && self
                .policy
                .lacks_available_primary(&self.clinicians, &ticket, None);
        // An urgent chat never goes to the contact form: the patient already
        // has the emergency reply, and the chat must be first in line for
        // whoever comes online.
        if self.policy.offline_form
            && !ticket.urgent
            && !self.policy.anyone_online_for(&self.clinicians, &ticket)
        {
            return Ok(Routed::Offline);
        }
        match self.policy.best_among(
            &self.clinicians,
            self.clinicians.keys().copied(),
            &ticket,
            true,
        ) {
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

    pub(crate) fn is_known(&self, conversation: &str) -> bool {
        self.assigned.contains_key(conversation)
            || self.offers.contains_key(conversation)
            || self.queue_index(conversation).is_some()
    }

    pub(crate) fn queue_index(&self, conversation: &str) -> Option<usize> {
        self.queue
            .iter()
            .position(|q| q.conversation == conversation)
    }

    pub(crate) fn accept_unchecked(&mut self, conversation: &str, now_ms: u64) {
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
    pub(crate) fn pass(&mut self, conversation: &str, now_ms: u64) -> Option<ClinicianId> {
        let mut p = self.offers.remove(conversation)?;
        if let Some(c) = self.clinicians.get_mut(&p.clinician) {
            c.offered.remove(conversation);
        }
        p.ticket.passed.insert(p.clinician);
        p.ticket.last_pass_at = Some(now_ms);
        self.enqueue(p.ticket);
        Some(p.clinician)
    }

    /// Inserts in order and returns the 1-based position.
    pub(crate) fn enqueue(&mut self, ticket: QueuedChat) -> usize {
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

    pub(crate) fn attach(&mut self, clinician: ClinicianId, mut ticket: QueuedChat, now_ms: u64) {
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
    pub(crate) fn drain(&mut self, now_ms: u64) -> Vec<Assignment> {
        self.policy
            .refresh_fallbacks(&self.clinicians, &mut self.queue);
        let mut free: Vec<ClinicianId> = self
            .clinicians
            .values()
            .filter(|c| c.has_room())
            .map(|c| c.id)
            .collect();
        let mut assignments = Vec::new();
        let mut index = 0;
        while index < self.queue.len() && !free.is_empty() {
            match self.policy.best_among(
                &self.clinicians,
                free.iter().copied(),
                &self.queue[index],
                true,
            ) {
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

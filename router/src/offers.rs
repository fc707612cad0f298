//! Offers and the rules that depend on time. With an offer timeout the
//! router offers instead of assigning; the offered clinician accepts or
//! declines, and [`Router::tick`] moves expired offers on, lets chats fall
//! back after their wait, starts a new round for a chat every capable
//! clinician let pass, and sends chats to the contact form. A transfer (to a
//! colleague or back to a skill group) lives here too because it follows the
//! same rule as a passed offer: not straight back to whoever let it go.

use serde::{Deserialize, Serialize};

use crate::clinicians::ClinicianId;
use crate::queue::QueuedChat;
use crate::router::{Assignment, RouteError, Routed, Router};

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

impl Router {
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
    ///
    /// [`Policy::fallback_after_ms`]: crate::Policy::fallback_after_ms
    /// [`Policy::offline_after_ms`]: crate::Policy::offline_after_ms
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
        self.policy
            .refresh_fallbacks(&self.clinicians, &mut self.queue);
        let restart_after = self.policy.offer_timeout_ms.unwrap_or(0);
        let restart: Vec<usize> = (0..self.queue.len())
            .filter(|&i| {
                let t = &self.queue[i];
                !t.passed.is_empty()
                    && t.last_pass_at
                        .is_none_or(|p| now_ms >= p.saturating_add(restart_after))
                    && self
                        .policy
                        .best_among(&self.clinicians, self.clinicians.keys().copied(), t, true)
                        .is_none()
                    && self
                        .policy
                        .best_among(&self.clinicians, self.clinicians.keys().copied(), t, false)
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
                if !t.urgent && (waited_out || !self.policy.anyone_online_for(&self.clinicians, &t))
                {
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
}

//! Clinicians joining, changing and leaving: presence, profile updates and
//! removal. Each can make room or take it away, so each ends by handing the
//! queue out again, and going away or leaving moves that clinician's offers
//! (and, on removal, their chats) on to others.

use crate::clinicians::{Clinician, ClinicianId, Presence};
use crate::queue::QueuedChat;
use crate::router::{Assignment, RouteError, Routed, Router};

impl Router {
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
}

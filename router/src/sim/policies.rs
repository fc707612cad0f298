//! The policies under test, behind one trait: carechat's [`Router`] and the
//! two team-based baselines, round robin (Chatwoot) and least busy
//! (Rocket.Chat).

use std::collections::{BTreeMap, VecDeque};

use super::config::SimConfig;
use super::world::{SimChat, World};
use crate::{Policy, Presence, Request, Router};

/// One policy under test: each call reports the chats it just assigned, as
/// (chat index, clinician index).
pub(super) trait Dispatch {
    fn arrive(&mut self, chat: usize, spec: &SimChat, now_ms: u64) -> Vec<(usize, usize)>;
    fn finish(&mut self, chat: usize, now_ms: u64) -> Vec<(usize, usize)>;
    fn presence(&mut self, clinician: usize, p: Presence, now_ms: u64) -> Vec<(usize, usize)>;
    fn tick(&mut self, now_ms: u64) -> Vec<(usize, usize)>;
}

pub(super) struct Carechat {
    router: Router,
}

impl Carechat {
    pub(super) fn new(config: &SimConfig, world: &World) -> Self {
        let mut policy = Policy::default();
        for (skill, fallbacks) in &config.fallback {
            policy = policy.with_fallback(skill.clone(), fallbacks.clone());
        }
        policy.fallback_after_ms = config.fallback_after_s.map(|s| s * 1000);
        let mut router = Router::with_policy(policy);
        for c in &world.clinicians {
            router.upsert_clinician(c.clone(), 0);
        }
        Carechat { router }
    }

    fn pairs(assignments: Vec<crate::Assignment>) -> Vec<(usize, usize)> {
        assignments
            .into_iter()
            .filter_map(|a| Some((a.conversation.parse().ok()?, a.clinician as usize)))
            .collect()
    }
}

impl Dispatch for Carechat {
    fn arrive(&mut self, chat: usize, spec: &SimChat, now_ms: u64) -> Vec<(usize, usize)> {
        let req = Request::new(chat.to_string(), spec.language.clone(), now_ms)
            .with_skill(spec.skill.clone())
            .with_urgent(spec.urgent);
        match self.router.route(req) {
            Ok(crate::Routed::Assigned(id)) => vec![(chat, id as usize)],
            _ => Vec::new(),
        }
    }

    fn finish(&mut self, chat: usize, now_ms: u64) -> Vec<(usize, usize)> {
        Self::pairs(
            self.router
                .release(&chat.to_string(), now_ms)
                .unwrap_or_default(),
        )
    }

    fn presence(&mut self, clinician: usize, p: Presence, now_ms: u64) -> Vec<(usize, usize)> {
        Self::pairs(
            self.router
                .set_presence(clinician as i64, p, now_ms)
                .unwrap_or_default(),
        )
    }

    fn tick(&mut self, now_ms: u64) -> Vec<(usize, usize)> {
        let assignments = self
            .router
            .tick(now_ms)
            .into_iter()
            .filter_map(|e| match e {
                crate::Event::Assigned(a) => Some(a),
                _ => None,
            })
            .collect();
        Self::pairs(assignments)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    RoundRobin,
    LeastBusy,
}

/// The two team-based baselines share everything but how they pick.
pub(super) struct Teams {
    pick: Pick,
    /// Team index of each skill.
    team_of: BTreeMap<String, usize>,
    /// Per team, member clinician indices in rotation order.
    rotation: Vec<VecDeque<usize>>,
    available: Vec<bool>,
    open: Vec<usize>,
    max_chats: Vec<usize>,
    /// Per team, waiting (arrival time, chat) oldest first.
    waiting: Vec<VecDeque<(u64, usize)>>,
    team_of_chat: BTreeMap<usize, usize>,
    holder: BTreeMap<usize, usize>,
}

impl Teams {
    pub(super) fn new(config: &SimConfig, world: &World, pick: Pick) -> Self {
        let mut team_of = BTreeMap::new();
        for (i, (_, skills)) in config.teams.iter().enumerate() {
            for s in skills {
                team_of.entry(s.clone()).or_insert(i);
            }
        }
        // A skill no team lists gets a team of its own.
        let mut n = config.teams.len();
        for (s, _) in config.chat_skills.iter().chain(&config.clinician_skills) {
            team_of.entry(s.clone()).or_insert_with(|| {
                n += 1;
                n - 1
            });
        }
        let mut rotation = vec![VecDeque::new(); n];
        for (i, c) in world.clinicians.iter().enumerate() {
            let mut mine: Vec<usize> = c
                .skills
                .iter()
                .filter_map(|s| team_of.get(s))
                .copied()
                .collect();
            mine.sort_unstable();
            mine.dedup();
            for t in mine {
                rotation[t].push_back(i);
            }
        }
        Teams {
            pick,
            team_of,
            rotation,
            available: vec![false; world.clinicians.len()],
            open: vec![0; world.clinicians.len()],
            max_chats: world.clinicians.iter().map(|c| c.max_chats).collect(),
            waiting: vec![VecDeque::new(); n],
            team_of_chat: BTreeMap::new(),
            holder: BTreeMap::new(),
        }
    }

    fn free(&self, i: usize) -> bool {
        self.available[i] && self.open[i] < self.max_chats[i]
    }

    fn choose(&mut self, team: usize) -> Option<usize> {
        match self.pick {
            Pick::RoundRobin => {
                let pos = self.rotation[team].iter().position(|&i| self.free(i))?;
                let i = self.rotation[team].remove(pos)?;
                self.rotation[team].push_back(i);
                Some(i)
            }
            Pick::LeastBusy => self.rotation[team]
                .iter()
                .copied()
                .filter(|&i| self.free(i))
                .min_by_key(|&i| (self.open[i], i)),
        }
    }

    /// Serves the waiting chats oldest first across teams until nobody who is
    /// free can take the oldest waiting chat of any team.
    fn drain(&mut self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        loop {
            let mut heads: Vec<(u64, usize, usize)> = self
                .waiting
                .iter()
                .enumerate()
                .filter_map(|(t, q)| q.front().map(|&(at, chat)| (at, chat, t)))
                .collect();
            heads.sort_unstable();
            let mut served = false;
            for (_, chat, team) in heads {
                if let Some(i) = self.choose(team) {
                    self.waiting[team].pop_front();
                    self.open[i] += 1;
                    self.holder.insert(chat, i);
                    out.push((chat, i));
                    served = true;
                    break;
                }
            }
            if !served {
                return out;
            }
        }
    }
}

impl Dispatch for Teams {
    fn arrive(&mut self, chat: usize, spec: &SimChat, now_ms: u64) -> Vec<(usize, usize)> {
        let team = self.team_of.get(&spec.skill).copied().unwrap_or(0);
        self.team_of_chat.insert(chat, team);
        self.waiting[team].push_back((now_ms, chat));
        self.drain()
    }

    fn finish(&mut self, chat: usize, _now_ms: u64) -> Vec<(usize, usize)> {
        if let Some(i) = self.holder.remove(&chat) {
            self.open[i] -= 1;
        }
        self.drain()
    }

    fn presence(&mut self, clinician: usize, p: Presence, _now_ms: u64) -> Vec<(usize, usize)> {
        self.available[clinician] = p == Presence::Available;
        self.drain()
    }

    fn tick(&mut self, _now_ms: u64) -> Vec<(usize, usize)> {
        Vec::new()
    }
}

//! The dashboard: how the bot and the team are doing, from counts and
//! durations only.
//!
//! The service records an event ([`store::ActivityKind`]) where something
//! happens: a chat's first message, each decision the bot takes while it
//! has the chat, an escalation and its reason, a red flag, a message held
//! or blocked as spam, a patient asked to leave a message, a clinician
//! assigned (with the wait since the chat went to staff) and a person's
//! first reply (with the time since). An event holds the whitelist's
//! intent id, a reason word, the clinician and seconds: never text, a name
//! or an address, so no PHI can reach the dashboard, its CSV or its charts.
//! The events outlive the chats (deleting a chat unlinks them).
//!
//! [`Service::dashboard`] sums them per hour, day or week (in the clinic's
//! time zone, given as an offset), with the waits' p50 and p95, the answer
//! rate per intent and each clinician's load.

use std::collections::BTreeMap;

use serde::Serialize;
use store::{Activity, ActivityKind, ConversationId, NewActivity, Role, Timestamp, User, UserId};

use crate::{Service, ServiceError, ServiceResult};

/// The most buckets one request may ask for.
pub const MAX_BUCKETS: i64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Hour,
    Day,
    Week,
}

impl Bucket {
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            _ => None,
        }
    }

    fn secs(self) -> i64 {
        match self {
            Bucket::Hour => 3600,
            Bucket::Day => 86_400,
            Bucket::Week => 7 * 86_400,
        }
    }

    /// The start of the bucket holding `t`, local time being UTC plus
    /// `offset` seconds; weeks start on Monday.
    pub fn start(self, t: i64, offset: i64) -> i64 {
        // 1970-01-01 was a Thursday: Mondays are 4 days past the epoch.
        let shift = if self == Bucket::Week { 4 * 86_400 } else { 0 };
        let local = t + offset - shift;
        local.div_euclid(self.secs()) * self.secs() - offset + shift
    }
}

/// One bucket's counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Row {
    pub start: i64,
    /// Chats in which the patient wrote.
    pub chats: u64,
    /// Patient messages the bot answered from the whitelist.
    pub answered: u64,
    /// Chats that went to staff, and why.
    pub escalated: u64,
    pub escalated_by_reason: BTreeMap<String, u64>,
    pub urgent: u64,
    pub held: u64,
    pub blocked: u64,
    pub left_message: u64,
    /// From going to staff to a clinician having the chat, in seconds.
    pub wait_p50: Option<i64>,
    pub wait_p95: Option<i64>,
    /// From going to staff to a person's first message, in seconds.
    pub first_reply_p50: Option<i64>,
    pub first_reply_p95: Option<i64>,
}

/// How often the bot answered when an intent was its best guess.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntentRate {
    pub intent: String,
    pub title: Option<String>,
    pub turns: u64,
    pub answered: u64,
    pub rate: f64,
}

/// A clinician's share of the work.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Load {
    #[schema(value_type = i64)]
    pub user: UserId,
    pub name: Option<String>,
    /// Chats they were given (assigned, taken, transferred to them).
    pub chats: u64,
    pub first_replies: u64,
    pub first_reply_p50: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub bucket: Bucket,
    pub from: i64,
    pub to: i64,
    pub offset: i64,
    pub rows: Vec<Row>,
    pub totals: Row,
    pub intents: Vec<IntentRate>,
    pub clinicians: Vec<Load>,
}

/// The CSV columns, one row per bucket.
pub const CSV_HEADER: &str = "start,chats,answered,escalated,escalated_low_confidence,\
escalated_handoff_intent,escalated_red_flag,urgent,held,blocked,left_message,\
wait_p50_s,wait_p95_s,first_reply_p50_s,first_reply_p95_s";

/// The nearest-rank percentile of sorted `values`.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn tally(row: &mut Row, events: &[&Activity]) {
    let mut waits = Vec::new();
    let mut replies = Vec::new();
    for a in events {
        match a.kind {
            ActivityKind::Chat => row.chats += 1,
            ActivityKind::BotTurn => {
                if a.detail.as_deref() == Some("answer") {
                    row.answered += 1;
                }
            }
            ActivityKind::Escalated => {
                row.escalated += 1;
                let reason = a.detail.clone().unwrap_or_else(|| "other".into());
                *row.escalated_by_reason.entry(reason).or_default() += 1;
            }
            ActivityKind::Urgent => row.urgent += 1,
            ActivityKind::Held => row.held += 1,
            ActivityKind::Blocked => row.blocked += 1,
            ActivityKind::LeftMessage => row.left_message += 1,
            ActivityKind::Assigned => waits.extend(a.seconds),
            ActivityKind::FirstReply => replies.extend(a.seconds),
        }
    }
    waits.sort_unstable();
    replies.sort_unstable();
    row.wait_p50 = percentile(&waits, 0.5);
    row.wait_p95 = percentile(&waits, 0.95);
    row.first_reply_p50 = percentile(&replies, 0.5);
    row.first_reply_p95 = percentile(&replies, 0.95);
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl Dashboard {
    /// One line per bucket: numbers and an RFC 3339 time only.
    pub fn csv(&self) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push('\n');
        for r in &self.rows {
            let reason = |k: &str| r.escalated_by_reason.get(k).copied().unwrap_or(0);
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                Timestamp::from_unix(r.start).rfc3339(),
                r.chats,
                r.answered,
                r.escalated,
                reason("low_confidence"),
                reason("handoff_intent"),
                reason("red_flag"),
                r.urgent,
                r.held,
                r.blocked,
                r.left_message,
                opt(r.wait_p50),
                opt(r.wait_p95),
                opt(r.first_reply_p50),
                opt(r.first_reply_p95),
            ));
        }
        out
    }
}

impl Service {
    /// Counts an event; a failure to count is logged, never the patient's
    /// or clinician's problem.
    pub(crate) async fn count(&self, event: NewActivity) -> bool {
        let kind = event.kind;
        match self.store.record_activity(event).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(kind = kind.as_str(), error = %e, "counting for the dashboard");
                false
            }
        }
    }

    pub(crate) fn event(&self, kind: ActivityKind, conversation: &ConversationId) -> NewActivity {
        NewActivity::new(self.clock.now(), kind, conversation)
    }

    /// Seconds since the chat first went to staff (escalated, urgent, or
    /// left a message), if it did.
    pub(crate) async fn since_escalation(&self, conversation: &ConversationId) -> Option<i64> {
        let first = self
            .store
            .first_activity(
                conversation,
                &[
                    ActivityKind::Escalated,
                    ActivityKind::Urgent,
                    ActivityKind::LeftMessage,
                ],
            )
            .await
            .ok()
            .flatten()?;
        Some((self.clock.now().unix() - first.unix()).max(0))
    }

    /// The dashboard from the start of the bucket holding `from` to `to`
    /// (unix seconds, excluded) in `bucket`s, local time being UTC plus
    /// `offset` seconds. For admins.
    pub async fn dashboard(
        &self,
        user: &User,
        bucket: Bucket,
        from: i64,
        to: i64,
        offset: i64,
    ) -> ServiceResult<Dashboard> {
        if user.role != Role::Admin {
            return Err(ServiceError::Forbidden("only an admin reads the dashboard"));
        }
        if offset.abs() > 14 * 3600 {
            return Err(ServiceError::BadRequest(
                "the offset is the clinic's from UTC, in seconds (at most 14 hours)".into(),
            ));
        }
        if to <= from {
            return Err(ServiceError::BadRequest("`to` must be after `from`".into()));
        }
        let first = bucket.start(from, offset);
        let count = (to - first + bucket.secs() - 1) / bucket.secs();
        if count > MAX_BUCKETS {
            return Err(ServiceError::BadRequest(format!(
                "that is {count} buckets; ask for at most {MAX_BUCKETS} (a longer bucket, or a shorter range)"
            )));
        }
        // Whole buckets: the first one from its start.
        let events = self
            .store
            .activity(Timestamp::from_unix(first), Timestamp::from_unix(to))
            .await?;
        let mut by_bucket: BTreeMap<i64, Vec<&Activity>> = BTreeMap::new();
        for a in &events {
            by_bucket
                .entry(bucket.start(a.at.unix(), offset))
                .or_default()
                .push(a);
        }
        let rows = (0..count)
            .map(|i| {
                let start = first + i * bucket.secs();
                let mut row = Row {
                    start,
                    ..Row::default()
                };
                tally(&mut row, by_bucket.get(&start).map_or(&[][..], |v| v));
                row
            })
            .collect();
        let mut totals = Row {
            start: first,
            ..Row::default()
        };
        tally(&mut totals, &events.iter().collect::<Vec<_>>());
        Ok(Dashboard {
            bucket,
            from: first,
            to,
            offset,
            rows,
            totals,
            intents: self.intent_rates(&events),
            clinicians: self.loads(&events).await,
        })
    }

    fn intent_rates(&self, events: &[Activity]) -> Vec<IntentRate> {
        let mut by_intent: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for a in events.iter().filter(|a| a.kind == ActivityKind::BotTurn) {
            if let Some(intent) = a.intent.as_deref() {
                let e = by_intent.entry(intent).or_default();
                e.0 += 1;
                if a.detail.as_deref() == Some("answer") {
                    e.1 += 1;
                }
            }
        }
        let whitelist = self.whitelist();
        let mut rates: Vec<IntentRate> = by_intent
            .into_iter()
            .map(|(intent, (turns, answered))| IntentRate {
                title: whitelist.intent(intent).map(|i| i.title.clone()),
                intent: intent.to_string(),
                turns,
                answered,
                rate: answered as f64 / turns as f64,
            })
            .collect();
        rates.sort_by(|a, b| b.turns.cmp(&a.turns).then(a.intent.cmp(&b.intent)));
        rates
    }

    async fn loads(&self, events: &[Activity]) -> Vec<Load> {
        let mut by_user: BTreeMap<UserId, (u64, Vec<i64>)> = BTreeMap::new();
        for a in events {
            let Some(user) = a.user else { continue };
            match a.kind {
                ActivityKind::Assigned => by_user.entry(user).or_default().0 += 1,
                ActivityKind::FirstReply => {
                    by_user.entry(user).or_default().1.extend(a.seconds);
                }
                _ => {}
            }
        }
        let mut loads = Vec::new();
        for (user, (chats, mut replies)) in by_user {
            replies.sort_unstable();
            loads.push(Load {
                user,
                // Staff names are not PHI; a removed account keeps its name.
                name: self.store.user(user).await.ok().map(|u| u.display_name),
                chats,
                first_replies: replies.len() as u64,
                first_reply_p50: percentile(&replies, 0.5),
            });
        }
        loads.sort_by(|a, b| b.chats.cmp(&a.chats).then(a.user.0.cmp(&b.user.0)));
        loads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_the_hour_the_local_day_and_monday() {
        // 2026-12-07 (a Monday) 10:30 UTC.
        let t = 1_796_639_400;
        assert_eq!(Bucket::Hour.start(t, 0), t - 1800);
        assert_eq!(Bucket::Day.start(t, 0), t - 10 * 3600 - 1800);
        assert_eq!(Bucket::Week.start(t, 0), t - 10 * 3600 - 1800);
        // Five hours behind UTC it is still 05:30 on Monday.
        assert_eq!(Bucket::Day.start(t, -5 * 3600), t - 5 * 3600 - 1800);
        // Eleven hours behind, it is Sunday 23:30: last week.
        assert_eq!(
            Bucket::Week.start(t, -11 * 3600),
            t - 10 * 3600 - 1800 - 7 * 86_400 + 11 * 3600
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 0.5), Some(10));
        assert_eq!(percentile(&v, 0.95), Some(19));
        assert_eq!(percentile(&[7], 0.95), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}

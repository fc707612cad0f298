//! The admins' workbench: the intent whitelist as versions in the store,
//! edited as a draft, judged by an evaluation gate, published without a
//! restart, and rolled back in one action.
//!
//! - **The draft** starts as a copy of the live version's files; each edit
//!   (an intent, the bot-wide messages, the clinic's test set) is checked
//!   by parsing the whole draft, so a draft always loads. The emergency
//!   intent's `urgent` flag cannot be switched off, nor the intent deleted.
//! - **Publishing** builds bots for the live version and the draft on the
//!   server's models (a [`crate::Workshop`]), each holding out every
//!   question it is judged on, while the live one keeps answering; then
//!   runs both on the draft's questions with known answers, set by set:
//!   each intent's `validation` phrasings, the out-of-scope questions the
//!   model does not learn, and the clinic's own test set
//!   (`clinic_tests.toml`). When, in any set, wrong answers or
//!   out-of-scope answers rise by more than the tolerance, publishing is
//!   refused, unless the admin overrides with a reason (audited). Otherwise
//!   the version is stored, made live, and the new whitelist and bot take
//!   over at once: a message already being handled finishes on the bot it
//!   started with.
//! - **Rollback** makes any earlier version live again, its bot rebuilt.
//!
//! Every edit, publish, refusal and rollback is on the audit trail.

use std::collections::BTreeMap;
use std::sync::Arc;

use bot_engine::{Case, Evaluation, Intent, Messages, Whitelist};
use serde::Serialize;
use store::{NewAudit, NewWhitelistVersion, Role, User, WhitelistDraft, WhitelistVersion};

use crate::{Assistant, Service, ServiceError, ServiceResult};

/// A rise in wrong or out-of-scope answers up to this share passes the gate
/// unless the server is told otherwise: one point.
pub const DEFAULT_TOLERANCE: f64 = 0.01;
/// The shortest and longest reason to publish past the gate.
pub const MIN_REASON_CHARS: usize = 10;
pub const MAX_REASON_CHARS: usize = 200;

/// What a bot made of a message tried in the workbench.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tried {
    /// Whether the draft's bot answered (else the live one: no draft).
    pub draft: bool,
    /// `answer`, `escalate`, `urgent`, `hold` or `block`.
    #[schema(value_type = String)]
    pub action: &'static str,
    /// Why it would hand over: `low_confidence`, `handoff_intent`, `red_flag`.
    #[schema(value_type = Option<String>)]
    pub reason: Option<bot_engine::Reason>,
    pub intent: Option<String>,
    pub title: Option<String>,
    pub confidence: f32,
    /// The next best intents, best first.
    pub alternatives: Vec<TriedIntent>,
    pub language: String,
    /// What the patient would be told.
    pub reply: String,
    /// The message as the model read it (PHI replaced).
    pub redacted: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TriedIntent {
    pub intent: String,
    pub title: Option<String>,
    pub confidence: f32,
}

/// A whitelist as the workbench shows it.
#[derive(Debug, Clone, Serialize)]
pub struct WhitelistView {
    pub intents: Vec<Intent>,
    pub messages: Messages,
    pub out_of_scope: Vec<String>,
    pub clinic_tests: Vec<Case>,
}

impl WhitelistView {
    fn of(w: &Whitelist) -> WhitelistView {
        WhitelistView {
            intents: w.intents.clone(),
            messages: w.messages.clone(),
            out_of_scope: w.out_of_scope.clone(),
            clinic_tests: w.clinic_tests.clone(),
        }
    }
}

/// `GET /api/whitelist`: the live version and the draft.
#[derive(Debug, Clone, Serialize)]
pub struct Workbench {
    pub live_version: Option<i64>,
    pub live: WhitelistView,
    pub draft: Option<DraftView>,
    pub tolerance: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DraftView {
    pub base: Option<i64>,
    pub updated_at: store::Timestamp,
    #[serde(flatten)]
    pub whitelist: WhitelistView,
}

/// One set's figures, before (the live bot) and after (the draft's).
#[derive(Debug, Clone, Serialize)]
pub struct SetReport {
    pub set: &'static str,
    pub before: Evaluation,
    pub after: Evaluation,
}

/// What the gate found.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub tolerance: f64,
    pub sets: Vec<SetReport>,
    /// Why it did not pass (empty when it did).
    pub reasons: Vec<String>,
    pub passed: bool,
}

/// How a publish went.
#[derive(Debug, Clone)]
pub enum Published {
    Live {
        version: WhitelistVersion,
        report: GateReport,
    },
    Refused(GateReport),
}

fn admin_only(user: &User) -> ServiceResult<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("only an admin edits the whitelist"))
    }
}

/// The files parsed as a whitelist; a clear error for one that does not
/// load.
pub fn parse(files: &BTreeMap<String, String>) -> ServiceResult<Whitelist> {
    Whitelist::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| ServiceError::BadRequest(e.to_string()))
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The gate's verdict on figures already measured.
pub fn judge(sets: Vec<SetReport>, tolerance: f64) -> GateReport {
    let mut reasons = Vec::new();
    for s in &sets {
        let (b, a) = (&s.before, &s.after);
        if a.in_scope > 0 && a.wrong_rate() - b.wrong_rate() > tolerance {
            reasons.push(format!(
                "{}: wrong answers rose from {} to {} ({} of {})",
                s.set,
                percent(b.wrong_rate()),
                percent(a.wrong_rate()),
                a.wrong,
                a.in_scope
            ));
        }
        if a.out_of_scope > 0 && a.out_of_scope_rate() - b.out_of_scope_rate() > tolerance {
            reasons.push(format!(
                "{}: out-of-scope questions answered rose from {} to {} ({} of {})",
                s.set,
                percent(b.out_of_scope_rate()),
                percent(a.out_of_scope_rate()),
                a.out_of_scope_answered,
                a.out_of_scope
            ));
        }
    }
    GateReport {
        tolerance,
        passed: reasons.is_empty(),
        sets,
        reasons,
    }
}

impl Service {
    /// The gate's tolerance ([`DEFAULT_TOLERANCE`] unless set).
    pub fn with_gate_tolerance(mut self, tolerance: f64) -> Service {
        self.gate_tolerance = tolerance;
        self
    }

    /// The live version and the draft, for an admin.
    pub async fn workbench(&self, user: &User) -> ServiceResult<Workbench> {
        admin_only(user)?;
        let live = self.store.live_whitelist().await?;
        let draft = match self.store.whitelist_draft().await? {
            Some(d) => Some(DraftView {
                base: d.base,
                updated_at: d.updated_at,
                whitelist: WhitelistView::of(&parse(&d.files)?),
            }),
            None => None,
        };
        Ok(Workbench {
            live_version: live.map(|v| v.id),
            live: WhitelistView::of(&self.whitelist()),
            draft,
            tolerance: self.gate_tolerance,
        })
    }

    /// The draft, or a new one copied from the live version.
    async fn draft_files(&self) -> ServiceResult<(BTreeMap<String, String>, Option<i64>)> {
        if let Some(d) = self.store.whitelist_draft().await? {
            return Ok((d.files, d.base));
        }
        match self.store.live_whitelist().await? {
            Some(v) => Ok((v.files, Some(v.id))),
            None => Err(ServiceError::Conflict(
                "no whitelist version is stored yet".into(),
            )),
        }
    }

    /// Changes the draft with `edit`, checks that it still loads (and that
    /// the emergency intent stays urgent), stores it and audits `what`.
    async fn edit_draft(
        &self,
        user: &User,
        what: String,
        address: Option<String>,
        edit: impl FnOnce(&mut BTreeMap<String, String>) -> ServiceResult<()>,
    ) -> ServiceResult<Workbench> {
        admin_only(user)?;
        let (mut files, base) = self.draft_files().await?;
        let before = parse(&files)?;
        edit(&mut files)?;
        let after = parse(&files)?;
        for urgent in before.intents.iter().filter(|i| i.urgent) {
            if !after.intent(&urgent.id).is_some_and(|i| i.urgent) {
                return Err(ServiceError::BadRequest(format!(
                    "{} is the emergency intent: it stays, and stays urgent",
                    urgent.id
                )));
            }
        }
        self.store
            .save_whitelist_draft(&WhitelistDraft {
                files,
                base,
                updated_at: self.clock.now(),
                updated_by: Some(user.id),
            })
            .await?;
        self.store
            .audit(
                NewAudit::new(Some(user.id), "whitelist_draft", "whitelist", what)
                    .from_address(address),
            )
            .await?;
        self.workbench(user).await
    }

    /// Adds or replaces intent `id` in the draft.
    pub async fn put_draft_intent(
        &self,
        user: &User,
        id: &str,
        mut intent: Intent,
        address: Option<String>,
    ) -> ServiceResult<Workbench> {
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_id || matches!(id, "messages" | "out_of_scope" | "clinic_tests") {
            return Err(ServiceError::BadRequest(
                "an intent id is 1 to 64 of a-z, 0-9 and _ (and not a reserved file name)".into(),
            ));
        }
        intent.id = id.to_string();
        let text = toml::to_string(&intent).map_err(|e| ServiceError::Internal(e.into()))?;
        self.edit_draft(user, format!("intent={id}"), address, |files| {
            files.insert(format!("{id}.toml"), text);
            Ok(())
        })
        .await
    }

    /// Deletes intent `id` from the draft.
    pub async fn delete_draft_intent(
        &self,
        user: &User,
        id: &str,
        address: Option<String>,
    ) -> ServiceResult<Workbench> {
        self.edit_draft(user, format!("intent={id} deleted"), address, |files| {
            files
                .remove(&format!("{id}.toml"))
                .map(|_| ())
                .ok_or(ServiceError::NotFound("no such intent in the draft"))
        })
        .await
    }

    /// Replaces the bot-wide messages in the draft.
    pub async fn put_draft_messages(
        &self,
        user: &User,
        messages: Messages,
        address: Option<String>,
    ) -> ServiceResult<Workbench> {
        let text = toml::to_string(&messages).map_err(|e| ServiceError::Internal(e.into()))?;
        self.edit_draft(user, "messages".into(), address, |files| {
            files.insert("messages.toml".into(), text);
            Ok(())
        })
        .await
    }

    /// Replaces the clinic's test set in the draft.
    pub async fn put_draft_tests(
        &self,
        user: &User,
        cases: Vec<Case>,
        address: Option<String>,
    ) -> ServiceResult<Workbench> {
        #[derive(Serialize)]
        struct File {
            case: Vec<Case>,
        }
        let text =
            toml::to_string(&File { case: cases }).map_err(|e| ServiceError::Internal(e.into()))?;
        self.edit_draft(user, "clinic_tests".into(), address, |files| {
            files.insert("clinic_tests.toml".into(), text);
            Ok(())
        })
        .await
    }

    /// Throws the draft away.
    pub async fn discard_draft(&self, user: &User, address: Option<String>) -> ServiceResult<()> {
        admin_only(user)?;
        self.store.discard_whitelist_draft().await?;
        self.store
            .audit(
                NewAudit::new(Some(user.id), "whitelist_draft", "whitelist", "discarded")
                    .from_address(address),
            )
            .await?;
        Ok(())
    }

    /// The live version's bot (`before`) and the draft's (`after`) on the
    /// draft's questions with known answers, set by set, judged.
    async fn gate(
        &self,
        whitelist: &Whitelist,
        before: &dyn Assistant,
        after: &dyn Assistant,
    ) -> ServiceResult<GateReport> {
        let mut sets = Vec::new();
        for (set, cases) in whitelist.gate_cases() {
            if cases.is_empty() {
                continue;
            }
            sets.push(SetReport {
                set,
                before: before.evaluate(&cases).await?,
                after: after.evaluate(&cases).await?,
            });
        }
        Ok(judge(sets, self.gate_tolerance))
    }

    /// What the draft's bot (the live one when there is no draft) would do
    /// with `text` as a patient's first message: the decision, confidence
    /// and alternatives. The draft's bot is built on the first try after an
    /// edit and kept for the next. Nothing is stored or logged.
    pub async fn try_draft(&self, user: &User, text: &str) -> ServiceResult<Tried> {
        admin_only(user)?;
        crate::check_text(text)?;
        let draft = self.store.whitelist_draft().await?;
        let from_draft = draft.is_some();
        let (whitelist, bot) = match draft {
            None => (self.whitelist(), self.bot()?.clone()),
            Some(d) => {
                let mut kept = self.tried.lock().await;
                match kept.as_ref() {
                    Some((files, w, bot)) if *files == d.files => (w.clone(), bot.clone()),
                    _ => {
                        let w = Arc::new(parse(&d.files)?);
                        self.bot()?;
                        let bot = self
                            .workshop()?
                            .build(w.clone(), false)
                            .await
                            .map_err(ServiceError::Internal)?;
                        *kept = Some((d.files, w.clone(), bot.clone()));
                        (w, bot)
                    }
                }
            }
        };
        let ctx = bot_engine::Context::default();
        let a = match bot.emergency(text, &ctx) {
            Some(e) => {
                let redacted = bot.redact_urgent(text).await?;
                e.assessment(redacted)
            }
            None => bot.assess(text, &ctx).await?,
        };
        let title = |id: &str| whitelist.intent(id).map(|i| i.title.clone());
        Ok(Tried {
            draft: from_draft,
            action: crate::metrics::action_word(a.action),
            reason: a.reason,
            intent: a.intent.clone(),
            title: a.intent.as_deref().and_then(title),
            confidence: a.confidence,
            alternatives: a
                .top
                .iter()
                .chain(a.alternatives.iter())
                .filter(|s| Some(&s.intent) != a.intent.as_ref())
                .map(|s| TriedIntent {
                    title: title(&s.intent),
                    intent: s.intent.clone(),
                    confidence: s.confidence,
                })
                .collect(),
            language: a.language,
            reply: a.reply,
            redacted: a.redacted,
        })
    }

    fn workshop(&self) -> ServiceResult<&Arc<dyn crate::Workshop>> {
        self.workshop.as_ref().ok_or(ServiceError::Conflict(
            "this server cannot build bots for new whitelist versions".into(),
        ))
    }

    /// Publishes the draft if it passes the gate, or with a stated
    /// `override_reason` if it does not.
    pub async fn publish_whitelist(
        &self,
        user: &User,
        override_reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<Published> {
        admin_only(user)?;
        let reason = match override_reason.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => {
                let chars = r.chars().count();
                if !(MIN_REASON_CHARS..=MAX_REASON_CHARS).contains(&chars) {
                    return Err(ServiceError::BadRequest(format!(
                        "the reason must be {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters"
                    )));
                }
                Some(self.redact_staff_text(r).await?)
            }
            None => None,
        };
        let _one = self.publishing.lock().await;
        let draft = self
            .store
            .whitelist_draft()
            .await?
            .ok_or_else(|| ServiceError::Conflict("there is no draft to publish".into()))?;
        let whitelist = Arc::new(parse(&draft.files)?);
        self.bot()?;
        let workshop = self.workshop()?;
        let build = |w: Arc<Whitelist>, judged: bool| async move {
            workshop
                .build(w, judged)
                .await
                .map_err(ServiceError::Internal)
        };
        // Judged side by side, each built to hold out what it is judged
        // on; then the draft's bot as it will run. The live version's
        // judged bot is kept from the publish that made it live.
        let live = self.whitelist();
        let kept = self
            .judged_live
            .lock()
            .await
            .as_ref()
            .filter(|(w, _)| Arc::ptr_eq(w, &live))
            .map(|(_, bot)| bot.clone());
        let before = match kept {
            Some(bot) => bot,
            None => build(live, true).await?,
        };
        let after = build(whitelist.clone(), true).await?;
        let report = self
            .gate(&whitelist, before.as_ref(), after.as_ref())
            .await?;
        if !report.passed && reason.is_none() {
            self.store
                .audit(
                    NewAudit::new(
                        Some(user.id),
                        "whitelist_publish_refused",
                        "whitelist",
                        report.reasons.join("; "),
                    )
                    .from_address(address),
                )
                .await?;
            crate::metrics::published(false);
            return Ok(Published::Refused(report));
        }
        let detail = match &reason {
            Some(r) if !report.passed => format!("override: {r}"),
            _ => "passed".to_string(),
        };
        let version = self
            .store
            .publish_whitelist(
                NewWhitelistVersion {
                    files: draft.files,
                    created_by: Some(user.id),
                    note: "published".into(),
                    evaluation: Some(
                        serde_json::to_value(&report)
                            .map_err(|e| ServiceError::Internal(e.into()))?,
                    ),
                    override_reason: reason.filter(|_| !report.passed),
                },
                Some(
                    NewAudit::new(Some(user.id), "whitelist_publish", "whitelist", detail)
                        .from_address(address),
                ),
            )
            .await?;
        // The bot "try a message" built from these very files, if any.
        let tried = self
            .tried
            .lock()
            .await
            .as_ref()
            .filter(|(files, _, _)| *files == version.files)
            .map(|(_, _, bot)| bot.clone());
        let candidate = match tried {
            Some(bot) => bot,
            None => build(whitelist.clone(), false).await?,
        };
        *self.judged_live.lock().await = Some((whitelist.clone(), after));
        self.go_live(whitelist, candidate);
        crate::metrics::published(true);
        tracing::info!(version = version.id, "a new whitelist version is live");
        Ok(Published::Live { version, report })
    }

    /// Every version, newest first (without their files).
    pub async fn whitelist_versions(&self, user: &User) -> ServiceResult<Vec<WhitelistVersion>> {
        admin_only(user)?;
        Ok(self.store.whitelist_versions().await?)
    }

    /// Makes an earlier version live again, its bot rebuilt.
    pub async fn rollback_whitelist(
        &self,
        user: &User,
        version: i64,
        address: Option<String>,
    ) -> ServiceResult<WhitelistVersion> {
        admin_only(user)?;
        let _one = self.publishing.lock().await;
        let stored = self
            .store
            .whitelist_version(version)
            .await
            .map_err(ServiceError::not_found("no such version"))?;
        let whitelist = Arc::new(parse(&stored.files)?);
        let bot = self
            .workshop()?
            .build(whitelist.clone(), false)
            .await
            .map_err(ServiceError::Internal)?;
        let live = self
            .store
            .set_live_whitelist(
                version,
                NewAudit::new(
                    Some(user.id),
                    "whitelist_rollback",
                    "whitelist",
                    format!("version={version}"),
                )
                .from_address(address),
            )
            .await?;
        *self.judged_live.lock().await = None;
        self.go_live(whitelist, bot);
        crate::metrics::rolled_back();
        tracing::info!(version, "an earlier whitelist version is live again");
        Ok(live)
    }
}

//! What the service is given rather than owns: the bot, the clock, and in
//! ephemeral mode the courier that takes transcripts to the clinic. The
//! store is the fourth ([`store::Store`]). Each is a trait so that the
//! conversation core runs in a test with a scripted bot and paused time.

use std::sync::Arc;

use async_trait::async_trait;
use bot_engine::{Assessment, Case, Context, Emergency, EngineError, Evaluation, Whitelist};

/// The bot, as the conversation core uses it: the emergency check on the
/// text in memory, the whole assessment, and redaction.
#[async_trait]
pub trait Assistant: Send + Sync {
    /// A red flag in `text`, decided before any model queue.
    fn emergency(&self, text: &str, ctx: &Context) -> Option<Emergency>;
    /// Everything else: language, redaction, spam, intents.
    async fn assess(&self, text: &str, ctx: &Context) -> Result<Assessment, EngineError>;
    /// Redacts a staff text (a clinician's reply, a note, a reason).
    async fn redact(&self, text: &str) -> Result<String, EngineError>;
    /// Redacts an emergency message: never refused as busy.
    async fn redact_urgent(&self, text: &str) -> Result<redaction::Redacted, EngineError>;

    /// Requests waiting for the models now (for `/metrics`).
    fn queue_depth(&self) -> usize {
        0
    }

    /// How it does on questions with known answers: each one decided as a
    /// patient's first message is (the evaluation gate of a new whitelist
    /// version).
    async fn evaluate(&self, cases: &[Case]) -> Result<Evaluation, EngineError> {
        let mut e = Evaluation::default();
        // A few at a time, as concurrent patients are: the model workers
        // batch what arrives together.
        for chunk in cases.chunks(EVALUATE_AT_ONCE) {
            let decided = futures_util::future::join_all(chunk.iter().map(|case| async move {
                match self.emergency(&case.text, &Context::default()) {
                    Some(emergency) => {
                        Ok(emergency.assessment(self.redact_urgent(&case.text).await?))
                    }
                    None => self.assess(&case.text, &Context::default()).await,
                }
            }))
            .await;
            for (case, a) in chunk.iter().zip(decided) {
                e.tally(case, &a?);
            }
        }
        Ok(e)
    }
}

/// Questions an evaluation has in flight at once (well inside the model
/// queues, so none is refused as busy).
const EVALUATE_AT_ONCE: usize = 16;

/// Builds a bot for another version of the whitelist, on the server's
/// encoder and redaction (the admins' workbench, [`crate::workbench`]).
#[async_trait]
pub trait Workshop: Send + Sync {
    /// `judged`: a bot to evaluate, which holds out every phrasing it is
    /// judged on (the live bot may be refit on its validation phrasings
    /// once calibrated, and would then be judged on answers it learned).
    async fn build(
        &self,
        whitelist: Arc<Whitelist>,
        judged: bool,
    ) -> anyhow::Result<Arc<dyn Assistant>>;
}

#[async_trait]
impl Assistant for bot_engine::Bot {
    fn emergency(&self, text: &str, ctx: &Context) -> Option<Emergency> {
        bot_engine::Bot::emergency(self, text, ctx)
    }

    async fn assess(&self, text: &str, ctx: &Context) -> Result<Assessment, EngineError> {
        self.assess_ordinary(text, ctx).await
    }

    async fn redact(&self, text: &str) -> Result<String, EngineError> {
        Ok(self.scrubber().redact(text).await?.text)
    }

    async fn redact_urgent(&self, text: &str) -> Result<redaction::Redacted, EngineError> {
        self.scrubber().redact_urgent(text).await
    }

    fn queue_depth(&self) -> usize {
        self.encoder_waiting()
    }
}

/// Wall-clock time in milliseconds since the Unix epoch: what the router's
/// offers, fallbacks and wait estimates count in.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;

    /// The same instant, in the store's whole seconds.
    fn now(&self) -> store::Timestamp {
        store::Timestamp::from_unix((self.now_ms() / 1000) as i64)
    }
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Where ephemeral mode sends a conversation's transcript before the chat
/// is deleted: the clinic's own endpoint (the server's courier is an HTTPS
/// webhook signed with HMAC, `console/src/webhook.rs`).
#[async_trait]
pub trait Courier: Send + Sync {
    /// Delivers one transcript (a FHIR JSON document). An error says why
    /// in words fit for the log: never the body.
    async fn deliver(
        &self,
        conversation: &store::ConversationId,
        body: Vec<u8>,
    ) -> Result<(), String>;
}

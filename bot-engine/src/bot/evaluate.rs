//! How a bot does on a set of questions with known answers: the figures a
//! new whitelist version is judged by before it goes live (the
//! workbench's evaluation gate), each question through the whole pipeline
//! exactly as a patient's message goes.

use serde::Serialize;

use super::{Action, Assessment, Bot, Context, Reason};
use crate::Result;
use crate::whitelist::Case;

/// Counts on one set of questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Questions with an intent to get.
    pub in_scope: usize,
    /// ... that got it (answered, or handed over or flagged urgent as that
    /// intent says).
    pub right: usize,
    /// ... that got another intent's canned answer: the costly mistake.
    pub wrong: usize,
    /// ... that went to a person without their intent's answer.
    pub escalated: usize,
    /// Questions that should get no answer.
    pub out_of_scope: usize,
    /// ... that got a canned answer anyway.
    pub out_of_scope_answered: usize,
}

impl Evaluation {
    fn share(n: usize, of: usize) -> f64 {
        if of == 0 { 0.0 } else { n as f64 / of as f64 }
    }

    /// Wrong answers as a share of the in-scope questions.
    pub fn wrong_rate(&self) -> f64 {
        Self::share(self.wrong, self.in_scope)
    }

    /// Out-of-scope questions answered, as a share of them.
    pub fn out_of_scope_rate(&self) -> f64 {
        Self::share(self.out_of_scope_answered, self.out_of_scope)
    }
}

impl Evaluation {
    /// Counts what the bot decided (`a`) on one case.
    pub fn tally(&mut self, case: &Case, a: &Assessment) {
        let answered = a.action == Action::Answer;
        match &case.intent {
            Some(want) => {
                self.in_scope += 1;
                let got = a.intent.as_deref() == Some(want.as_str());
                let acted = matches!(a.action, Action::Answer | Action::Urgent)
                    || (a.action == Action::Escalate && a.reason == Some(Reason::HandoffIntent));
                if got && acted {
                    self.right += 1;
                } else if answered {
                    self.wrong += 1;
                } else {
                    self.escalated += 1;
                }
            }
            None => {
                self.out_of_scope += 1;
                if answered {
                    self.out_of_scope_answered += 1;
                }
            }
        }
    }
}

impl Bot {
    /// Runs every case through [`Bot::assess`] (a fresh conversation each)
    /// and counts what came of it.
    pub async fn evaluate(&self, cases: &[Case]) -> Result<Evaluation> {
        let mut e = Evaluation::default();
        for case in cases {
            let a = self.assess(&case.text, &Context::default()).await?;
            e.tally(case, &a);
        }
        Ok(e)
    }

    /// A bot for another whitelist on the same encoder, redaction and
    /// settings (a threshold left to calibration is calibrated again on
    /// the new whitelist's phrasings). `judged`: a bot to be evaluated,
    /// which never refits on its held-out phrasings (a refit bot has
    /// learned the answers it would be judged on).
    pub async fn rebuild(
        &self,
        whitelist: std::sync::Arc<crate::Whitelist>,
        cache: &dyn super::EmbeddingCache,
        judged: bool,
    ) -> Result<Bot> {
        let mut config = self.config.clone();
        if judged {
            config.refit = false;
        }
        Bot::build(
            whitelist,
            self.encoder.clone(),
            self.scrubber.clone(),
            config,
            cache,
        )
        .await
    }
}

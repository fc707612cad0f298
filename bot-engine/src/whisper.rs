//! The whisper: what the bot tells a clinician when it hands a chat over.

use serde::{Deserialize, Serialize};

use crate::{Assessment, Reason, Scored, Whitelist};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Suggestion {
    pub intent: String,
    pub language: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Whisper {
    pub reason: Reason,
    pub intent: Option<String>,
    pub confidence: f32,
    pub alternatives: Vec<AltScore>,
    pub language: String,
    pub spam_score: f32,
    pub skill: Option<String>,
    /// Redacted: built from stored (redacted) patient messages only.
    pub summary: String,
    pub suggested: Vec<Suggestion>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AltScore {
    pub intent: String,
    pub confidence: f32,
}

impl From<&Scored> for AltScore {
    fn from(s: &Scored) -> Self {
        AltScore {
            intent: s.intent.clone(),
            confidence: s.confidence,
        }
    }
}

/// Patient lines kept in the summary; the console shows the full history.
const SUMMARY_LINES: usize = 6;
const SUMMARY_CHARS: usize = 600;

impl Whisper {
    /// `redacted_history` is the patient's messages so far, already redacted,
    /// oldest first (the current one included).
    pub fn new(
        assessment: &Assessment,
        whitelist: &Whitelist,
        redacted_history: &[String],
    ) -> Whisper {
        let start = redacted_history.len().saturating_sub(SUMMARY_LINES);
        let mut summary = String::new();
        for line in &redacted_history[start..] {
            if !summary.is_empty() {
                summary.push('\n');
            }
            summary.push_str("Patient: ");
            summary.push_str(line);
        }
        if summary.chars().count() > SUMMARY_CHARS {
            summary = summary.chars().take(SUMMARY_CHARS).collect::<String>() + "…";
        }
        let mut suggested = Vec::new();
        let candidates = assessment
            .intent
            .iter()
            .chain(assessment.alternatives.iter().map(|a| &a.intent));
        for id in candidates {
            if let Some(intent) = whitelist.intent(id).filter(|i| !i.urgent) {
                let (language, text) = intent.reply(&assessment.language);
                if !suggested.iter().any(|s: &Suggestion| s.intent == intent.id) {
                    suggested.push(Suggestion {
                        intent: intent.id.clone(),
                        language: language.to_string(),
                        text: text.to_string(),
                    });
                }
            }
            if suggested.len() == 3 {
                break;
            }
        }
        Whisper {
            reason: assessment.reason.unwrap_or(Reason::LowConfidence),
            intent: assessment.intent.clone(),
            confidence: assessment.confidence,
            alternatives: assessment.alternatives.iter().map(AltScore::from).collect(),
            language: assessment.language.clone(),
            spam_score: assessment.spam_score,
            skill: assessment.skill.clone(),
            summary,
            suggested,
        }
    }
}

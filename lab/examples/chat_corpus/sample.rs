//! What the corpus is made of: the entity labels (presidio-research's
//! names), the labelled pieces a message is built from, and the JSON
//! sample they are assembled into.

use serde::Serialize;

pub(crate) const PERSON: &str = "PERSON";
pub(crate) const ADDRESS: &str = "ADDRESS";
pub(crate) const LOCATION: &str = "LOCATION";
pub(crate) const ZIP_CODE: &str = "ZIP_CODE";
pub(crate) const DATE_TIME: &str = "DATE_TIME";
pub(crate) const AGE: &str = "AGE";
pub(crate) const PHONE_NUMBER: &str = "PHONE_NUMBER";
pub(crate) const EMAIL_ADDRESS: &str = "EMAIL_ADDRESS";
pub(crate) const US_SSN: &str = "US_SSN";
pub(crate) const MEDICAL_RECORD_NUMBER: &str = "MEDICAL_RECORD_NUMBER";
pub(crate) const HEALTH_PLAN_ID: &str = "HEALTH_PLAN_ID";
pub(crate) const ACCOUNT_NUMBER: &str = "ACCOUNT_NUMBER";
pub(crate) const CREDIT_CARD: &str = "CREDIT_CARD";
pub(crate) const IBAN_CODE: &str = "IBAN_CODE";
pub(crate) const US_DRIVER_LICENSE: &str = "US_DRIVER_LICENSE";
pub(crate) const IP_ADDRESS: &str = "IP_ADDRESS";
pub(crate) const URL: &str = "URL";
pub(crate) const OTHER_ID: &str = "OTHER_ID";

#[derive(Serialize)]
pub(crate) struct Sample {
    pub(crate) full_text: String,
    pub(crate) spans: Vec<GoldSpan>,
}

#[derive(Serialize)]
pub(crate) struct GoldSpan {
    pub(crate) entity_type: &'static str,
    pub(crate) entity_value: String,
    pub(crate) start_position: usize,
    pub(crate) end_position: usize,
}

/// A run of message text, labelled when it is an identifier.
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) label: Option<&'static str>,
}

pub(crate) fn txt(text: impl Into<String>) -> Piece {
    Piece {
        text: text.into(),
        label: None,
    }
}

pub(crate) fn ent(label: &'static str, text: impl Into<String>) -> Piece {
    Piece {
        text: text.into(),
        label: Some(label),
    }
}

/// Joins the pieces and works out each label's char offsets.
pub(crate) fn assemble(pieces: Vec<Piece>) -> Sample {
    let mut text = String::new();
    let mut spans: Vec<GoldSpan> = Vec::new();
    let mut at = 0;
    for p in pieces {
        let n = p.text.chars().count();
        if let Some(label) = p.label {
            assert!(
                n > 0 && p.text.trim() == p.text,
                "bad {label} value {:?}",
                p.text
            );
            if let Some(prev) = spans.last() {
                assert!(
                    prev.end_position < at,
                    "{label} touches the {} before it in {text:?}",
                    prev.entity_type
                );
            }
            spans.push(GoldSpan {
                entity_type: label,
                entity_value: p.text.clone(),
                start_position: at,
                end_position: at + n,
            });
        }
        text.push_str(&p.text);
        at += n;
    }
    for s in &spans {
        let value: String = text
            .chars()
            .skip(s.start_position)
            .take(s.end_position - s.start_position)
            .collect();
        assert_eq!(value, s.entity_value, "offsets are off in {text:?}");
    }
    Sample {
        full_text: text,
        spans,
    }
}

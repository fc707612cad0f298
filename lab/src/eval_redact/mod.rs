//! `carechat-lab eval redact`: how much of a labelled data set's PHI the
//! redactor finds, how much of what it redacts is really PHI, and how fast.
//!
//! Scoring is per character, not per entity, because that is what matters
//! for redaction: a name found as "Maria" out of "Maria Lopez" still leaks
//! "Lopez", and a span that runs a word too long only costs that word. The
//! data sets' labels and the redactor's kinds do not line up one to one
//! (presidio-research has no "zip" or "mrn", we have no "organization"), so
//! recall asks only whether a gold character was redacted at all, whatever
//! the kind.
//!
//! - Recall counts only the HIPAA identifiers ([`score::HIPAA_TYPES`]).
//! - Precision counts a redacted character as right when it lies in any gold
//!   span, including ORGANIZATION, TITLE and PREFIX: hiding those is not
//!   required, but it is not a mistake either.
//! - Whitespace is not counted anywhere, so a name redacted as one span is
//!   not penalised for the space that two gold tokens leave out.
//! - Safe Harbor keeps years and says nothing of weekdays: a gold DATE_TIME
//!   span that is only a year ("1999", "in 2003") or only a weekday name
//!   ("Sunday", "on monday", "Tues") is not counted in recall (nor listed
//!   as a miss); redacting it is still no false positive. The report says
//!   how many characters were set aside (`safe_harbor_exempt_chars`).
//! - `ZIP_LIKE` is a recall row of its own beside the entity types: the
//!   characters of every 5-digit or ZIP+4 number ("02139", "90210-1234")
//!   inside a gold ADDRESS, LOCATION or ZIP_CODE span, so that how often
//!   ZIP codes leak is visible even where the data set labels them as part
//!   of an address. Those characters count in their own type's row too.
//! - `--half even|odd` scores only the even- or odd-numbered texts (counting
//!   from 0), so that rules can be tuned on one half and reported on the
//!   other.

mod score;

use std::path::Path;

use anyhow::{Context as _, bail};
use redaction::model::NerModel;
use redaction::{Redactor, Span};
use serde::Deserialize;

use score::{Report, Tally};

/// Which texts of a data set to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Half {
    /// Texts 0, 2, 4, ...: the half rules may be tuned on.
    Even,
    /// Texts 1, 3, 5, ...: the held-out half.
    Odd,
}

impl Half {
    fn keeps(self, index: usize) -> bool {
        match self {
            Half::Even => index.is_multiple_of(2),
            Half::Odd => !index.is_multiple_of(2),
        }
    }
}

/// Texts per model forward pass, as the server batches them.
pub const MODEL_BATCH: usize = 32;

/// One sentence of presidio-research's generated JSON (other fields, such as
/// `masked` and `template_id`, are ignored).
#[derive(Debug, Deserialize)]
struct Sentence {
    full_text: String,
    spans: Vec<GoldSpan>,
}

/// A labelled span; offsets are in chars, half-open.
#[derive(Debug, Clone, Deserialize)]
struct GoldSpan {
    entity_type: String,
    entity_value: String,
    start_position: usize,
    end_position: usize,
}

/// Reads presidio-research's generated JSON (a list of {"full_text": str,
/// "spans": [{"entity_type": str, "entity_value": str, "start_position": int,
/// "end_position": int}]}, offsets are Unicode character offsets, end
/// exclusive), redacts every full_text (rules, plus `model` when given), and
/// prints one pretty JSON object with character-level metrics to stdout,
/// with up to `examples` missed spans and false positives.
pub fn run(
    data: &Path,
    model: Option<&NerModel>,
    examples: usize,
    half: Option<Half>,
) -> anyhow::Result<()> {
    let report = evaluate(data, model, examples, half)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The model's spans for every text, batched as the server batches them
/// (texts sorted by length, so each batch pads little).
pub fn model_spans(model: &NerModel, texts: &[&str]) -> anyhow::Result<Vec<Vec<Span>>> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut out = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(MODEL_BATCH) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        for (&i, spans) in chunk.iter().zip(model.detect_batch(&batch)?) {
            out[i] = spans;
        }
    }
    Ok(out)
}

/// Everything `run` prints, computed.
fn evaluate(
    data: &Path,
    model: Option<&NerModel>,
    examples: usize,
    half: Option<Half>,
) -> anyhow::Result<Report> {
    let mut sentences = load(data)?;
    if let Some(half) = half {
        let mut i = 0;
        sentences.retain(|_| {
            i += 1;
            half.keeps(i - 1)
        });
    }
    let redactor = Redactor::new();
    let texts: Vec<&str> = sentences.iter().map(|s| s.full_text.as_str()).collect();
    let extra = match model {
        Some(m) => model_spans(m, &texts)?,
        None => vec![Vec::new(); texts.len()],
    };
    let mut tally = Tally::new(examples);
    for (s, extra) in sentences.iter().zip(&extra) {
        let pred = redactor.find_with(&s.full_text, extra);
        tally.add(&s.full_text, &s.spans, &pred);
    }
    let mut dataset = data.display().to_string();
    if let Some(half) = half {
        dataset.push_str(match half {
            Half::Even => " (even half)",
            Half::Odd => " (odd half)",
        });
    }
    Ok(tally.report(dataset, sentences.len(), model.is_some()))
}

/// The texts of a data set in presidio-research's format (for benchmarks).
pub fn load_texts(data: &Path) -> anyhow::Result<Vec<String>> {
    Ok(load(data)?.into_iter().map(|s| s.full_text).collect())
}

/// Parses the data set and checks every span against its text, which also
/// catches files whose offsets count bytes or UTF-16 units instead of chars.
fn load(data: &Path) -> anyhow::Result<Vec<Sentence>> {
    let bytes = std::fs::read(data).with_context(|| format!("reading {}", data.display()))?;
    let sentences: Vec<Sentence> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not presidio-research JSON", data.display()))?;
    for (i, s) in sentences.iter().enumerate() {
        let len = s.full_text.chars().count();
        for g in &s.spans {
            if g.start_position > g.end_position || g.end_position > len {
                bail!(
                    "sentence {i}: {} span {}..{} is outside its {len}-char text",
                    g.entity_type,
                    g.start_position,
                    g.end_position
                );
            }
            let value: String = s
                .full_text
                .chars()
                .skip(g.start_position)
                .take(g.end_position - g.start_position)
                .collect();
            if value != g.entity_value {
                bail!(
                    "sentence {i}: {} span {}..{} reads {value:?}, not {:?} \
                     (offsets must count Unicode chars)",
                    g.entity_type,
                    g.start_position,
                    g.end_position,
                    g.entity_value
                );
            }
        }
    }
    Ok(sentences)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_half_scores_only_its_own_texts() {
        let f = data_file(
            r#"[
              {"full_text": "SSN 078-05-1120", "spans": [{"entity_type": "US_SSN",
                "entity_value": "078-05-1120", "start_position": 4, "end_position": 15}]},
              {"full_text": "nothing here", "spans": []},
              {"full_text": "mail a@b.co", "spans": [{"entity_type": "EMAIL_ADDRESS",
                "entity_value": "a@b.co", "start_position": 5, "end_position": 11}]}
            ]"#,
        );
        let even = evaluate(f.path(), None, 15, Some(Half::Even)).unwrap();
        assert_eq!(even.sentences, 2);
        assert_eq!(even.overall.gold_chars, 11 + 6);
        let odd = evaluate(f.path(), None, 15, Some(Half::Odd)).unwrap();
        assert_eq!(odd.sentences, 1);
        assert_eq!(odd.overall.gold_chars, 0);
        assert!(odd.dataset.ends_with("(odd half)"));
    }

    fn data_file(json: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(json.as_bytes()).unwrap();
        f
    }

    #[test]
    fn evaluates_a_file_end_to_end() {
        let f = data_file(
            r#"[
              {"full_text": "Write to jane.doe@example.com please", "masked": "",
               "spans": [{"entity_type": "EMAIL_ADDRESS", "entity_value": "jane.doe@example.com",
                          "start_position": 9, "end_position": 29}]},
              {"full_text": "ça va, SSN 078-05-1120", "template_id": 3,
               "spans": [{"entity_type": "US_SSN", "entity_value": "078-05-1120",
                          "start_position": 11, "end_position": 22}]}
            ]"#,
        );
        let r = evaluate(f.path(), None, 15, None).unwrap();
        assert_eq!(r.sentences, 2);
        assert_eq!(r.overall.gold_chars, 20 + 11);
        assert_eq!(r.recall_by_entity["EMAIL_ADDRESS"].recall, Some(1.0));
        assert_eq!(r.recall_by_entity["US_SSN"].recall, Some(1.0));
        assert!(r.top_misses.is_empty());
        assert!(r.top_false_positives.is_empty());
    }

    #[test]
    fn rejects_offsets_that_do_not_count_chars() {
        // "Lyon" is chars 14..18; 16..20 counts the bytes of "é" and "à".
        let f = data_file(
            r#"[{"full_text": "Merci René, à Lyon demain", "spans": [
                {"entity_type": "LOCATION", "entity_value": "Lyon",
                 "start_position": 16, "end_position": 20}]}]"#,
        );
        let err = evaluate(f.path(), None, 15, None).unwrap_err().to_string();
        assert!(err.contains("chars"), "{err}");

        let f = data_file(
            r#"[{"full_text": "Lyon", "spans": [
                {"entity_type": "LOCATION", "entity_value": "Lyon",
                 "start_position": 0, "end_position": 9}]}]"#,
        );
        let err = evaluate(f.path(), None, 15, None).unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");
    }
}

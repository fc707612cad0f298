//! `carechat eval redact`: how much of a labelled data set's PHI the
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
//! - Recall counts only the HIPAA identifiers ([`HIPAA_TYPES`]).
//! - Precision counts a redacted character as right when it lies in any gold
//!   span, including ORGANIZATION, TITLE and PREFIX: hiding those is not
//!   required, but it is not a mistake either.
//! - Whitespace is not counted anywhere, so a name redacted as one span is
//!   not penalised for the space that two gold tokens leave out.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use redaction::model::NerModel;
use redaction::{Redactor, Span};
use serde::{Deserialize, Serialize};

/// The entity types that are identifiers under HIPAA Safe Harbor, and so
/// must be redacted: presidio-research's, then those of our chat corpus
/// (`redaction/examples/chat_corpus.rs`). Gold spans of other types are not
/// required, but are not held against precision.
const HIPAA_TYPES: [&str; 19] = [
    "PERSON",
    "ADDRESS",
    "LOCATION",
    "DATE_TIME",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_DRIVER_LICENSE",
    "DOMAIN_NAME",
    "ZIP_CODE",
    "AGE",
    "MEDICAL_RECORD_NUMBER",
    "HEALTH_PLAN_ID",
    "ACCOUNT_NUMBER",
    "URL",
    "OTHER_ID",
];

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
pub fn run(data: &Path, model: Option<&NerModel>, examples: usize) -> anyhow::Result<()> {
    let report = evaluate(data, model, examples)?;
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
fn evaluate(data: &Path, model: Option<&NerModel>, examples: usize) -> anyhow::Result<Report> {
    let sentences = load(data)?;
    let redactor = Redactor::new();
    let texts: Vec<&str> = sentences.iter().map(|s| s.full_text.as_str()).collect();
    let extra = match model {
        Some(m) => model_spans(m, &texts)?,
        None => vec![Vec::new(); texts.len()],
    };
    let mut tally = Tally {
        examples,
        ..Tally::default()
    };
    for (s, extra) in sentences.iter().zip(&extra) {
        let pred = redactor.find_with(&s.full_text, extra);
        tally.add(&s.full_text, &s.spans, &pred);
    }
    Ok(tally.report(data.display().to_string(), sentences.len(), model.is_some()))
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

/// Characters counted, and how many of them were a hit (covered, for
/// recall; inside gold, for precision). Whitespace is never counted.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Count {
    total: u64,
    hit: u64,
}

impl Count {
    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.hit += u64::from(hit);
    }

    /// `hit / total`, or None when nothing was counted.
    fn ratio(self) -> Option<f64> {
        (self.total > 0).then(|| self.hit as f64 / self.total as f64)
    }
}

/// A gold HIPAA span of which not one character was redacted, or a
/// redacted span with not one character in any gold span.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Miss {
    entity_type: String,
    text: String,
}

/// The character counts over a data set, added to one sentence at a time.
#[derive(Debug, Default)]
struct Tally {
    /// Gold HIPAA characters (union over types), and how many were redacted.
    recall: Count,
    /// The same per gold entity type.
    recall_by_entity: BTreeMap<String, Count>,
    /// Redacted characters, and how many lie in any gold span.
    precision: Count,
    /// The same per predicted kind.
    precision_by_kind: BTreeMap<&'static str, Count>,
    /// The first `examples` fully missed spans, in data-set order.
    misses: Vec<Miss>,
    /// The first `examples` predicted spans wholly outside gold.
    false_positives: Vec<Miss>,
    examples: usize,
}

impl Tally {
    /// Scores one sentence: `gold` with char offsets checked against `text`
    /// (see [`load`]), `pred` as [`Redactor::find`] returns it (in range,
    /// non-overlapping).
    fn add(&mut self, text: &str, gold: &[GoldSpan], pred: &[Span]) {
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        let counted = |i: usize| !chars[i].is_whitespace();

        let mut redacted = vec![false; n];
        for p in pred {
            redacted[p.start..p.end].fill(true);
        }
        let mut in_gold = vec![false; n];
        for g in gold {
            in_gold[g.start_position..g.end_position].fill(true);
        }

        // Gold spans may overlap, so characters are counted from masks (one
        // per type, and their union) rather than span by span.
        let mut phi = vec![false; n];
        let mut by_type: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
        for g in gold.iter().filter(|g| is_hipaa(&g.entity_type)) {
            let range = g.start_position..g.end_position;
            phi[range.clone()].fill(true);
            let mask = by_type
                .entry(&g.entity_type)
                .or_insert_with(|| vec![false; n]);
            mask[range.clone()].fill(true);
            let found = range.clone().any(|i| counted(i) && redacted[i]);
            if !found && range.clone().any(counted) && self.misses.len() < self.examples {
                self.misses.push(Miss {
                    entity_type: g.entity_type.clone(),
                    text: chars[range].iter().collect(),
                });
            }
        }
        count_under(&mut self.recall, &chars, &phi, &redacted);
        for (entity, mask) in by_type {
            let count = self.recall_by_entity.entry(entity.to_string()).or_default();
            count_under(count, &chars, &mask, &redacted);
        }

        count_under(&mut self.precision, &chars, &redacted, &in_gold);
        for p in pred {
            let count = self.precision_by_kind.entry(p.kind.as_str()).or_default();
            let r = p.start..p.end;
            count_under(
                count,
                &chars[r.clone()],
                &redacted[r.clone()],
                &in_gold[r.clone()],
            );
            if !in_gold[r.clone()].contains(&true) && self.false_positives.len() < self.examples {
                self.false_positives.push(Miss {
                    entity_type: p.kind.as_str().to_string(),
                    text: chars[r].iter().collect(),
                });
            }
        }
    }

    fn report(self, dataset: String, sentences: usize, model: bool) -> Report {
        let recall = self.recall.ratio();
        let precision = self.precision.ratio();
        let f1 = match (recall, precision) {
            (Some(r), Some(p)) if r + p > 0.0 => Some(2.0 * r * p / (r + p)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        Report {
            dataset,
            sentences,
            layers: if model { "rules+model" } else { "rules" },
            overall: Overall {
                recall: recall.map(|x| round(x, 4)),
                precision: precision.map(|x| round(x, 4)),
                f1: f1.map(|x| round(x, 4)),
                gold_chars: self.recall.total,
                predicted_chars: self.precision.total,
            },
            recall_by_entity: self
                .recall_by_entity
                .into_iter()
                .map(|(entity, c)| {
                    let recall = c.ratio().map(|x| round(x, 4));
                    let gold_chars = c.total;
                    (entity, EntityRecall { recall, gold_chars })
                })
                .collect(),
            precision_by_kind: self
                .precision_by_kind
                .into_iter()
                .map(|(kind, c)| {
                    let precision = c.ratio().map(|x| round(x, 4));
                    let predicted_chars = c.total;
                    let row = KindPrecision {
                        precision,
                        predicted_chars,
                    };
                    (kind, row)
                })
                .collect(),
            top_misses: self.misses,
            top_false_positives: self.false_positives,
        }
    }
}

/// Adds the characters of `chars` under `mask`, whitespace aside, to
/// `count`, as hits where `hit` is set. The three slices are parallel.
fn count_under(count: &mut Count, chars: &[char], mask: &[bool], hit: &[bool]) {
    for ((c, &m), &h) in chars.iter().zip(mask).zip(hit) {
        if m && !c.is_whitespace() {
            count.add(h);
        }
    }
}

fn is_hipaa(entity_type: &str) -> bool {
    HIPAA_TYPES.contains(&entity_type)
}

fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

// The printed report; field order is the order in the output. Ratios are
// null when their denominator is zero.

#[derive(Debug, Serialize)]
struct Report {
    dataset: String,
    sentences: usize,
    layers: &'static str,
    overall: Overall,
    recall_by_entity: BTreeMap<String, EntityRecall>,
    precision_by_kind: BTreeMap<&'static str, KindPrecision>,
    top_misses: Vec<Miss>,
    top_false_positives: Vec<Miss>,
}

#[derive(Debug, Serialize)]
struct Overall {
    recall: Option<f64>,
    precision: Option<f64>,
    f1: Option<f64>,
    gold_chars: u64,
    predicted_chars: u64,
}

#[derive(Debug, Serialize)]
struct EntityRecall {
    recall: Option<f64>,
    gold_chars: u64,
}

#[derive(Debug, Serialize)]
struct KindPrecision {
    precision: Option<f64>,
    predicted_chars: u64,
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use redaction::Kind;

    use super::*;

    /// A gold span over the first occurrence of `value` in `text`.
    fn gold(text: &str, entity_type: &str, value: &str) -> GoldSpan {
        let byte = text.find(value).expect("value in text");
        let start = text[..byte].chars().count();
        GoldSpan {
            entity_type: entity_type.to_string(),
            entity_value: value.to_string(),
            start_position: start,
            end_position: start + value.chars().count(),
        }
    }

    /// A predicted span over the first occurrence of `value` in `text`.
    fn pred(text: &str, kind: Kind, value: &str) -> Span {
        let g = gold(text, "", value);
        Span {
            start: g.start_position,
            end: g.end_position,
            kind,
            score: 1.0,
        }
    }

    fn tally() -> Tally {
        Tally {
            examples: 15,
            ..Tally::default()
        }
    }

    #[test]
    fn whitespace_and_non_hipaa_gold_are_not_held_against_precision() {
        let text = "John Smith at Acme Corp called on Monday";
        let g = [
            gold(text, "PERSON", "John"),
            gold(text, "PERSON", "Smith"),
            gold(text, "ORGANIZATION", "Acme Corp"),
            gold(text, "DATE_TIME", "Monday"),
        ];
        let p = [
            // One span over two gold tokens: the space between is ignored.
            pred(text, Kind::Name, "John Smith"),
            // Not PHI, but labelled: right for precision, absent from recall.
            pred(text, Kind::Location, "Acme Corp"),
            // Wholly outside gold: 6 wrong characters.
            pred(text, Kind::Name, "called"),
        ];
        let mut t = tally();
        t.add(text, &g, &p);

        // Gold PHI: John(4) + Smith(5) + Monday(6); found: John, Smith.
        assert_eq!(t.recall, Count { total: 15, hit: 9 });
        // Redacted: JohnSmith(9) + AcmeCorp(8) + called(6); 17 in gold.
        assert_eq!(t.precision, Count { total: 23, hit: 17 });
        assert_eq!(t.recall_by_entity["PERSON"], Count { total: 9, hit: 9 });
        assert_eq!(t.recall_by_entity["DATE_TIME"], Count { total: 6, hit: 0 });
        assert!(!t.recall_by_entity.contains_key("ORGANIZATION"));
        assert_eq!(t.precision_by_kind["name"], Count { total: 15, hit: 9 });
        assert_eq!(t.precision_by_kind["location"], Count { total: 8, hit: 8 });
        assert_eq!(
            t.misses,
            [Miss {
                entity_type: "DATE_TIME".into(),
                text: "Monday".into()
            }]
        );
        assert_eq!(
            t.false_positives,
            [Miss {
                entity_type: "name".into(),
                text: "called".into()
            }]
        );

        let r = t.report("x".into(), 1, false);
        assert_eq!(r.overall.recall, Some(0.6));
        assert_eq!(r.overall.precision, Some(round(17.0 / 23.0, 4)));
        let (rec, prec) = (0.6, 17.0 / 23.0);
        assert_eq!(
            r.overall.f1,
            Some(round(2.0 * rec * prec / (rec + prec), 4))
        );
        assert_eq!(r.overall.gold_chars, 15);
        assert_eq!(r.overall.predicted_chars, 23);
    }

    #[test]
    fn partial_cover_is_not_a_miss_and_overlapping_gold_counts_once() {
        // Offsets are chars: "é" is two bytes but one position.
        let text = "Zoé Durand, 12 Rue Haute";
        let g = [
            gold(text, "PERSON", "Zoé Durand"),
            gold(text, "ADDRESS", "12 Rue Haute"),
            gold(text, "LOCATION", "Rue Haute"),
        ];
        let p = [pred(text, Kind::Name, "Zoé"), pred(text, Kind::Zip, "12")];
        let mut t = tally();
        t.add(text, &g, &p);

        // ZoéDurand(9) + 12RueHaute(10); "Rue Haute" lies in both the
        // ADDRESS and the LOCATION span but is counted once overall.
        assert_eq!(t.recall, Count { total: 19, hit: 5 });
        assert_eq!(t.recall_by_entity["PERSON"], Count { total: 9, hit: 3 });
        assert_eq!(t.recall_by_entity["ADDRESS"], Count { total: 10, hit: 2 });
        assert_eq!(t.recall_by_entity["LOCATION"], Count { total: 8, hit: 0 });
        assert_eq!(t.precision, Count { total: 5, hit: 5 });
        // Only the span with nothing redacted is a miss.
        assert_eq!(t.misses.len(), 1);
        assert_eq!(t.misses[0].text, "Rue Haute");
    }

    #[test]
    fn nothing_predicted_or_nothing_labelled_gives_null_not_nan() {
        let mut t = tally();
        t.add("see you soon", &[], &[]);
        let r = t.report("x".into(), 1, false);
        assert_eq!(r.overall.recall, None);
        assert_eq!(r.overall.precision, None);
        assert_eq!(r.overall.f1, None);
        let json = serde_json::to_value(&r).unwrap();
        assert!(json["overall"]["recall"].is_null());
    }

    #[test]
    fn misses_stop_at_the_limit() {
        let text = "Monday";
        let mut t = tally();
        for _ in 0..20 {
            t.add(text, &[gold(text, "DATE_TIME", "Monday")], &[]);
        }
        assert_eq!(t.misses.len(), 15);
        assert_eq!(t.recall.total, 6 * 20);
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
        let r = evaluate(f.path(), None, 15).unwrap();
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
        let err = evaluate(f.path(), None, 15).unwrap_err().to_string();
        assert!(err.contains("chars"), "{err}");

        let f = data_file(
            r#"[{"full_text": "Lyon", "spans": [
                {"entity_type": "LOCATION", "entity_value": "Lyon",
                 "start_position": 0, "end_position": 9}]}]"#,
        );
        let err = evaluate(f.path(), None, 15).unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");
    }
}

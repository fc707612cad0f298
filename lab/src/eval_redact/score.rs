//! The character counts behind `eval redact`, one sentence at a time, and
//! the report they make: which characters are PHI (the HIPAA types, less
//! what Safe Harbor keeps), which were redacted, and the ZIP-shaped numbers
//! in gold places. The rules they follow are the parent module's.

use std::collections::BTreeMap;

use redaction::Span;
use serde::Serialize;

use super::GoldSpan;

/// The entity types that are identifiers under HIPAA Safe Harbor, and so
/// must be redacted: presidio-research's, then those of our chat corpus
/// (`lab/examples/chat_corpus/`). Gold spans of other types are not
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

/// Gold types whose 5-digit and ZIP+4 numbers make the `ZIP_LIKE` row.
const ZIP_HOLDERS: [&str; 3] = ["ADDRESS", "LOCATION", "ZIP_CODE"];

/// The name of the recall row for ZIP-shaped numbers in gold places.
const ZIP_ROW: &str = "ZIP_LIKE";

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
pub(super) struct Miss {
    entity_type: String,
    text: String,
}

/// The character counts over a data set, added to one sentence at a time.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Gold HIPAA characters (union over types), and how many were redacted.
    recall: Count,
    /// The same per gold entity type, and for [`ZIP_ROW`].
    recall_by_entity: BTreeMap<String, Count>,
    /// Gold DATE_TIME characters left out of recall under Safe Harbor.
    exempt: u64,
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
    /// An empty tally that keeps the first `examples` misses and false
    /// positives.
    pub(super) fn new(examples: usize) -> Tally {
        Tally {
            examples,
            ..Tally::default()
        }
    }

    /// Scores one sentence: `gold` with char offsets checked against `text`
    /// (see [`load`]), `pred` as [`Redactor::find`] returns it (in range,
    /// non-overlapping).
    pub(super) fn add(&mut self, text: &str, gold: &[GoldSpan], pred: &[Span]) {
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
        let mut zips = vec![false; n];
        for g in gold.iter().filter(|g| is_hipaa(&g.entity_type)) {
            let range = g.start_position..g.end_position;
            if g.entity_type == "DATE_TIME" && safe_harbor_exempt(&g.entity_value) {
                self.exempt += range.clone().filter(|&i| counted(i)).count() as u64;
                continue;
            }
            if ZIP_HOLDERS.contains(&g.entity_type.as_str()) {
                mark_zips(&chars, range.clone(), &mut zips);
            }
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
        if zips.contains(&true) {
            let count = self
                .recall_by_entity
                .entry(ZIP_ROW.to_string())
                .or_default();
            count_under(count, &chars, &zips, &redacted);
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

    pub(super) fn report(self, dataset: String, sentences: usize, model: bool) -> Report {
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
                safe_harbor_exempt_chars: self.exempt,
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

/// Whether a gold DATE_TIME value is only a year or only a weekday name,
/// which Safe Harbor does not ask to remove: "1999", "in 2003", "Sunday",
/// "on monday", "Tues.", "sundays".
fn safe_harbor_exempt(value: &str) -> bool {
    const LEAD: [&str; 8] = ["in", "on", "of", "the", "year", "since", "during", "every"];
    const WEEKDAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    const SHORT: [&str; 12] = [
        "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "weds", "thr",
    ];
    let lower = value.to_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    while words.len() > 1 && LEAD.contains(&words[0]) {
        words.remove(0);
    }
    let [word] = words[..] else {
        return false;
    };
    let word = word.trim_end_matches(['.', '!', '?', ';', ':']);
    let year = word.len() == 4
        && word.bytes().all(|b| b.is_ascii_digit())
        && word
            .parse::<u32>()
            .is_ok_and(|y| (1000..=2999).contains(&y));
    let day = word.strip_suffix('s').unwrap_or(word);
    year || WEEKDAYS.contains(&word) || WEEKDAYS.contains(&day) || SHORT.contains(&word)
}

/// Marks, in `zips`, the characters of every number in `range` shaped like
/// a ZIP code: five digits, or five, a hyphen and four ("02139",
/// "90210-1234"), with no digit, letter or other digit group right next to
/// it (so "123-45-6789", "A12345" and "123456" are not ZIPs).
fn mark_zips(chars: &[char], range: std::ops::Range<usize>, zips: &mut [bool]) {
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let digits_from = |i: usize| (i..chars.len()).take_while(|&j| digit(j)).count();
    let mut i = range.start;
    while i < range.end {
        if !digit(i) || (i > 0 && digit(i - 1)) {
            i += 1;
            continue;
        }
        let run = digits_from(i);
        let mut end = i + run;
        if run == 5 && chars.get(end) == Some(&'-') && digits_from(end + 1) == 4 {
            end += 5;
        }
        let before_ok = i == 0 || {
            let b = chars[i - 1];
            !(b.is_alphanumeric() || (b == '-' && i >= 2 && digit(i - 2)))
        };
        let after_ok = chars
            .get(end)
            .is_none_or(|&a| !(a.is_alphanumeric() || (a == '-' && digit(end + 1))));
        if run == 5 && before_ok && after_ok && end <= range.end {
            zips[i..end].fill(true);
        }
        i = end.max(i + 1);
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
pub(super) struct Report {
    pub(super) dataset: String,
    pub(super) sentences: usize,
    pub(super) layers: &'static str,
    pub(super) overall: Overall,
    pub(super) recall_by_entity: BTreeMap<String, EntityRecall>,
    pub(super) precision_by_kind: BTreeMap<&'static str, KindPrecision>,
    pub(super) top_misses: Vec<Miss>,
    pub(super) top_false_positives: Vec<Miss>,
}

#[derive(Debug, Serialize)]
pub(super) struct Overall {
    pub(super) recall: Option<f64>,
    pub(super) precision: Option<f64>,
    pub(super) f1: Option<f64>,
    pub(super) gold_chars: u64,
    pub(super) predicted_chars: u64,
    pub(super) safe_harbor_exempt_chars: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct EntityRecall {
    pub(super) recall: Option<f64>,
    pub(super) gold_chars: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct KindPrecision {
    pub(super) precision: Option<f64>,
    pub(super) predicted_chars: u64,
}

#[cfg(test)]
mod tests {
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
        let text = "John Smith at Acme Corp called on May 3rd";
        let g = [
            gold(text, "PERSON", "John"),
            gold(text, "PERSON", "Smith"),
            gold(text, "ORGANIZATION", "Acme Corp"),
            gold(text, "DATE_TIME", "May 3rd"),
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

        // Gold PHI: John(4) + Smith(5) + May3rd(6); found: John, Smith.
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
                text: "May 3rd".into()
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
        let text = "May 3rd";
        let mut t = tally();
        for _ in 0..20 {
            t.add(text, &[gold(text, "DATE_TIME", "May 3rd")], &[]);
        }
        assert_eq!(t.misses.len(), 15);
        assert_eq!(t.recall.total, 6 * 20);
    }

    #[test]
    fn years_and_weekdays_alone_are_not_counted_in_recall() {
        for exempt in [
            "1999",
            "in 2003",
            "Sunday",
            "on monday",
            "Tues.",
            "sundays",
            "SAT",
        ] {
            assert!(safe_harbor_exempt(exempt), "{exempt}");
        }
        for counted in [
            "March 2003",
            "Monday, May 3",
            "12/1999",
            "2003-04-01",
            "May 3rd",
            "on the 4th",
            "12345",
            "",
        ] {
            assert!(!safe_harbor_exempt(counted), "{counted}");
        }

        let text = "Seen on Sunday, born in 1961, back on June 2";
        let g = [
            gold(text, "DATE_TIME", "Sunday"),
            gold(text, "DATE_TIME", "in 1961"),
            gold(text, "DATE_TIME", "June 2"),
        ];
        // Redacting an exempt span is still right for precision.
        let p = [pred(text, Kind::Date, "Sunday")];
        let mut t = tally();
        t.add(text, &g, &p);
        assert_eq!(t.recall, Count { total: 5, hit: 0 });
        assert_eq!(t.recall_by_entity["DATE_TIME"], Count { total: 5, hit: 0 });
        assert_eq!(t.exempt, 6 + 6);
        assert_eq!(t.precision, Count { total: 6, hit: 6 });
        assert_eq!(t.misses.len(), 1);
        assert_eq!(t.misses[0].text, "June 2");
    }

    #[test]
    fn zip_shaped_numbers_in_gold_places_get_their_own_row() {
        let text = "Springfield, IL 62704-1234 or room 12345 or 02139";
        let g = [
            gold(text, "ADDRESS", "Springfield, IL 62704-1234"),
            gold(text, "ZIP_CODE", "02139"),
        ];
        // The ZIP+4 found, the lone ZIP missed; "12345" is not in gold.
        let p = [pred(text, Kind::Zip, "62704-1234")];
        let mut t = tally();
        t.add(text, &g, &p);
        assert_eq!(t.recall_by_entity[ZIP_ROW], Count { total: 15, hit: 10 });
        assert_eq!(t.recall_by_entity["ZIP_CODE"], Count { total: 5, hit: 0 });

        let zip_chars = |text: &str| {
            let chars: Vec<char> = text.chars().collect();
            let mut zips = vec![false; chars.len()];
            mark_zips(&chars, 0..chars.len(), &mut zips);
            chars
                .iter()
                .zip(zips)
                .filter(|&(_, z)| z)
                .map(|(c, _)| c)
                .collect::<String>()
        };
        assert_eq!(zip_chars("Dover 03820."), "03820");
        assert_eq!(zip_chars("zip 90210-1234, CA"), "90210-1234");
        for not_zip in [
            "123-45-6789",
            "A12345",
            "123456",
            "12345B",
            "0176-12345",
            "1234",
        ] {
            assert_eq!(zip_chars(not_zip), "", "{not_zip}");
        }
    }
}

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::checksum::{
    aba_valid, dea_valid, iban_valid, luhn_valid, mbi_valid, npi_valid, ssn_plausible, vin_valid,
};
use crate::{ContextLayer, Detector, DictionaryLayer, Kind, PatternLayer, Redactor, Span};

/// One row of `testdata/cases.jsonl`: what `find` must return for `text`,
/// exactly, as (kind, substring) pairs in order. `kind` says which kind the
/// row exercises, so that coverage can be counted.
#[derive(Deserialize)]
struct Case {
    kind: String,
    text: String,
    expect: Vec<(Kind, String)>,
}

fn cases() -> Vec<Case> {
    include_str!("../testdata/cases.jsonl")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("cases.jsonl line {}: {e}", i + 1))
        })
        .collect()
}

fn substr(text: &str, s: &Span) -> String {
    text.chars().skip(s.start).take(s.end - s.start).collect()
}

fn found(r: &Redactor, text: &str) -> Vec<(Kind, String)> {
    r.find(text)
        .iter()
        .map(|s| (s.kind, substr(text, s)))
        .collect()
}

#[test]
fn table_of_cases() {
    let r = Redactor::new();
    let mut failures = Vec::new();
    for c in cases() {
        let got = found(&r, &c.text);
        if got != c.expect {
            failures.push(format!(
                "[{}] {:?}\n    expected {:?}\n    got      {:?}",
                c.kind, c.text, c.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn table_covers_every_kind() {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for c in cases() {
        let Ok(kind) = serde_json::from_value::<Kind>(serde_json::Value::String(c.kind.clone()))
        else {
            continue;
        };
        let entry = counts.entry(c.kind).or_default();
        if c.expect.iter().any(|(k, _)| *k == kind) {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    for kind in Kind::ALL {
        let (pos, neg) = counts.get(kind.as_str()).copied().unwrap_or_default();
        assert!(
            pos >= 4 && neg >= 2,
            "{kind}: {pos} positive and {neg} negative cases; need 4 and 2"
        );
    }
}

#[test]
fn kind_names_and_placeholders() {
    for kind in Kind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        assert_eq!(
            kind.placeholder(),
            format!("[{}]", kind.as_str().to_uppercase())
        );
    }
    let span = Span {
        start: 1,
        end: 3,
        kind: Kind::MemberId,
        score: 0.5,
    };
    assert_eq!(
        serde_json::to_string(&span).unwrap(),
        r#"{"start":1,"end":3,"kind":"member_id"}"#
    );
}

#[test]
fn luhn() {
    assert!(luhn_valid("4111111111111111"));
    assert!(luhn_valid("378282246310005"));
    assert!(luhn_valid("79927398713"));
    assert!(!luhn_valid("79927398710"));
    assert!(!luhn_valid("4111111111111112"));
    assert!(!luhn_valid("4111-1111-1111-1111"));
    assert!(!luhn_valid("0"));
    assert!(!luhn_valid(""));
}

#[test]
fn iban_mod_97() {
    assert!(iban_valid("DE89370400440532013000"));
    assert!(iban_valid("GB82WEST12345698765432"));
    assert!(iban_valid("gb82west12345698765432"));
    assert!(iban_valid("FR1420041010050500013M02606"));
    assert!(iban_valid("NO9386011117947"));
    // One digit changed, two swapped, wrong length for the country.
    assert!(!iban_valid("GB82WEST12345698765433"));
    assert!(!iban_valid("GB82WEST12345698765423"));
    assert!(!iban_valid("DE8937040044053201300"));
    assert!(!iban_valid("DE89 3704 0044 0532 0130 00"));
    assert!(!iban_valid("1234"));
}

#[test]
fn aba_routing() {
    assert!(aba_valid("021000021"));
    assert!(aba_valid("011000015"));
    assert!(aba_valid("121000358"));
    assert!(aba_valid("026009593"));
    assert!(!aba_valid("021000022"));
    assert!(!aba_valid("123456789"));
    assert!(!aba_valid("000000000"));
    // Checksum right, but 50 is no Federal Reserve district.
    assert!(!aba_valid("500000005"));
    assert!(!aba_valid("02100002"));
}

#[test]
fn dea() {
    assert!(dea_valid("AB1234563"));
    assert!(dea_valid("BS9876547"));
    assert!(dea_valid("ab1234563"));
    assert!(!dea_valid("AB1234560"));
    // Checksum right, but no registrant type starts with Z.
    assert!(!dea_valid("ZB1234563"));
    assert!(!dea_valid("AB123456"));
}

#[test]
fn npi() {
    assert!(npi_valid("1234567893"));
    assert!(npi_valid("1245319599"));
    assert!(!npi_valid("1234567890"));
    assert!(!npi_valid("123456789"));
    // Plain Luhn would accept this; the 80840 prefix does not.
    assert!(luhn_valid("1234567897"));
    assert!(!npi_valid("1234567897"));
}

#[test]
fn vin() {
    assert!(vin_valid("1M8GDM9AXKP042788"));
    assert!(vin_valid("1HGCM82633A004352"));
    assert!(vin_valid("11111111111111111"));
    assert!(!vin_valid("1M8GDM9A1KP042788"));
    assert!(!vin_valid("1HGCM82633A00435"));
    // I, O and Q never occur.
    assert!(!vin_valid("1HGCM8263OA004352"));
}

#[test]
fn mbi_and_ssn_shapes() {
    assert!(mbi_valid("1EG4TE5MK73"));
    assert!(!mbi_valid("1SG4TE5MK73"));
    assert!(!mbi_valid("0EG4TE5MK73"));
    assert!(!mbi_valid("1EG4TE5MK7"));
    assert!(ssn_plausible("123456789"));
    assert!(!ssn_plausible("000456789"));
    assert!(!ssn_plausible("666456789"));
    assert!(!ssn_plausible("912456789"));
    assert!(!ssn_plausible("123006789"));
    assert!(!ssn_plausible("123450000"));
}

#[test]
fn char_offsets_with_non_ascii_text() {
    let r = Redactor::new();
    let text = "José García nació el 3 de marzo de 1961 — 555-123-4567";
    let spans = r.find(text);
    let got: Vec<(Kind, usize, usize)> = spans.iter().map(|s| (s.kind, s.start, s.end)).collect();
    // Counted by hand in chars: the accents and the em dash are one each.
    assert_eq!(
        got,
        vec![
            (Kind::Name, 0, 11),
            (Kind::Date, 21, 39),
            (Kind::Phone, 42, 54)
        ]
    );
    assert_eq!(text.chars().count(), 54);
    assert_ne!(text.len(), 54, "the text must not be ASCII for this test");
}

#[test]
fn spans_are_sorted_disjoint_and_on_char_boundaries() {
    let r = Redactor::new();
    let tricky = [
        "Ñandú 555-123-4567 — Zoë Smith — 😀 DOB 3/4/61 😀 SSN 123-45-6789",
        "card 4111 1111 1111 1111 555-123-4567 4111 1111 1111 1111",
        "call 555-123-4567 or 555-123-4567, email a@b.co or visit www.a.org",
        "MRN MRN 12345678 member ID member ID 99887766",
        "DE89 3704 0044 0532 0130 00 DE89370400440532013000",
        "120 Maple Street, Springfield, IL 62704 — Dr. Ana María de la Cruz",
        "My name is John Smith John Smith, I am 92, 92 years old",
        "日本語のテキスト 03/04/1961 とSSN 123-45-6789",
        "\u{0301}\u{0301}5551234567\u{0301}",
    ];
    for text in tricky {
        let spans = r.find(text);
        assert!(!spans.is_empty(), "nothing found in {text:?}");
        let n = text.chars().count();
        for w in spans.windows(2) {
            assert!(
                w[0].end <= w[1].start,
                "overlap or disorder in {text:?}: {spans:?}"
            );
        }
        for s in &spans {
            assert!(s.start < s.end && s.end <= n, "bad span {s:?} in {text:?}");
        }
        // Char offsets must map onto the same text redact() replaced.
        let redacted = r.redact(text);
        assert_eq!(redacted.spans, spans);
        let mut rebuilt = String::new();
        let chars: Vec<char> = text.chars().collect();
        let mut at = 0;
        for s in &spans {
            rebuilt.extend(&chars[at..s.start]);
            rebuilt.push_str(s.kind.placeholder());
            at = s.end;
        }
        rebuilt.extend(&chars[at..]);
        assert_eq!(redacted.text, rebuilt);
    }
}

#[test]
fn redact_removes_every_identifier() {
    let r = Redactor::new();
    let text = "My name is John Smith, SSN 123-45-6789, phone 555-123-4567, born 03/04/1961";
    let out = r.redact(text);
    for secret in ["John", "Smith", "123-45-6789", "555-123-4567", "03/04/1961"] {
        assert!(
            !out.text.contains(secret),
            "{secret} survived: {}",
            out.text
        );
    }
    assert_eq!(
        out.text,
        "My name is [NAME], SSN [SSN], phone [PHONE], born [DATE]"
    );
    assert_eq!(out.spans.len(), 4);
}

#[test]
fn redact_leaves_clean_text_alone() {
    let r = Redactor::new();
    for text in ["Can I book a cleaning?", "", "ok 👍", "BP 142/91"] {
        let out = r.redact(text);
        assert_eq!(out.text, text);
        assert!(out.spans.is_empty());
    }
}

#[test]
fn mask_keeps_last_four_of_cards_and_accounts() {
    let r = Redactor::new();
    assert_eq!(
        r.mask("card 4111 1111 1111 1234 please"),
        // 4111 1111 1111 1234 fails Luhn, but the trigger still makes it a card.
        "card XXXX-XXXX-XXXX-1234 please"
    );
    assert_eq!(
        r.mask("charge 4012-8888-8888-1881 today"),
        "charge XXXX-XXXX-XXXX-1881 today"
    );
    assert_eq!(r.mask("account number 12345678"), "account number XXXX5678");
    assert_eq!(r.mask("acct 0098-7654-3210."), "acct XXXX3210.");
    // Everything else is a placeholder, as in redact().
    assert_eq!(
        r.mask("SSN 123-45-6789, card 4111111111111111"),
        "SSN [SSN], card XXXX-XXXX-XXXX-1111"
    );
}

/// A stand-in for the model layer: flags every "Zorblax" as a name, and
/// claims "Smith" as a location with a low score.
struct Fake;

impl Detector for Fake {
    fn detect(&self, text: &str, out: &mut Vec<Span>) {
        let chars: Vec<char> = text.chars().collect();
        let needle: Vec<char> = "Zorblax".chars().collect();
        for i in 0..chars.len() {
            if chars[i..].starts_with(&needle) {
                out.push(Span {
                    start: i,
                    end: i + needle.len(),
                    kind: Kind::Name,
                    score: 0.7,
                });
            }
        }
        if let Some(b) = text.find("Smith") {
            let start = text[..b].chars().count();
            out.push(Span {
                start,
                end: start + 5,
                kind: Kind::Location,
                score: 0.1,
            });
        }
        // Out-of-range and empty spans must be ignored, not panic.
        out.push(Span {
            start: 3,
            end: 3,
            kind: Kind::Id,
            score: 1.0,
        });
        out.push(Span {
            start: chars.len(),
            end: chars.len() + 10,
            kind: Kind::Id,
            score: 1.0,
        });
    }
}

#[test]
fn plugged_in_detector_is_merged() {
    let plain = Redactor::new();
    let r = Redactor::new().with_detector(Box::new(Fake));
    let text = "¿Zorblax? Mr. John Smith";
    assert_eq!(found(&plain, text), vec![(Kind::Name, "John Smith".into())]);
    assert_eq!(
        found(&r, text),
        vec![
            (Kind::Name, "Zorblax".into()),
            // The rules' higher-scoring, longer name wins over the model's
            // location.
            (Kind::Name, "John Smith".into())
        ]
    );
    assert_eq!(r.redact(text).text, "¿[NAME]? Mr. [NAME]");
}

#[test]
fn merge_joins_overlaps_and_takes_the_strongest_kind() {
    use crate::text::Hit;
    let merged = crate::merge(vec![
        // A character any layer flagged stays hidden: the SSN inside the
        // phone candidate names the joined span, which covers both.
        Hit::new(0, 10, Kind::Phone, 0.5),
        Hit::new(5, 8, Kind::Ssn, 0.9),
        Hit::new(20, 25, Kind::Name, 0.6),
        Hit::new(22, 30, Kind::Name, 0.6),
        // Equal scores: the longer candidate names the span.
        Hit::new(40, 45, Kind::Date, 0.8),
        Hit::new(40, 48, Kind::Id, 0.8),
        // Touching is not overlapping.
        Hit::new(48, 50, Kind::Zip, 0.8),
    ]);
    let got: Vec<(usize, usize, Kind)> = merged.iter().map(|h| (h.start, h.end, h.kind)).collect();
    assert_eq!(
        got,
        vec![
            (0, 10, Kind::Ssn),
            (20, 30, Kind::Name),
            (40, 48, Kind::Id),
            (48, 50, Kind::Zip)
        ]
    );
}

#[test]
fn layers_work_alone() {
    let text = "MRN 12345678, Can Maria Lopez call 555-123-4567?";
    let run = |d: &dyn Detector| {
        let mut out = Vec::new();
        d.detect(text, &mut out);
        out.iter()
            .map(|s| (s.kind, substr(text, s)))
            .collect::<Vec<_>>()
    };
    assert!(run(&PatternLayer).contains(&(Kind::Phone, "555-123-4567".into())));
    assert!(!run(&PatternLayer).iter().any(|(k, _)| *k == Kind::Mrn));
    assert!(run(&ContextLayer).contains(&(Kind::Mrn, "12345678".into())));
    assert_eq!(
        run(&DictionaryLayer),
        vec![(Kind::Name, "Maria Lopez".into())]
    );
}

#[test]
fn redactor_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Redactor>();
    let r = std::sync::Arc::new(Redactor::default());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || r.redact("SSN 123-45-6789").text)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "SSN [SSN]");
    }
}

#[test]
fn trigger_phrases_are_unique_and_lowercase() {
    let mut seen = std::collections::HashSet::new();
    for phrase in crate::context::trigger_phrases() {
        assert!(seen.insert(phrase), "duplicate trigger {phrase:?}");
        assert_eq!(
            phrase,
            phrase.to_lowercase(),
            "trigger {phrase:?} must be lowercase"
        );
    }
}

#[test]
fn long_and_odd_input_does_not_panic() {
    let r = Redactor::new();
    let long = "My name is John Smith and my phone is 555-123-4567. ".repeat(200);
    assert_eq!(r.find(&long).len(), 400);
    for text in [
        "\u{0}\u{1}\u{7f}",
        "::::::::",
        "1.1.1.1.1.1.1.1",
        "++++1111111111111111111111111111",
        "Dr. Dr. Dr.",
        "my name is",
        "I am",
        "DOB",
        "ñ",
        "ABCDEFGHJKLMNPRST",
    ] {
        let _ = r.redact(text);
        let _ = r.mask(text);
    }
}

/// Slicing at a byte that is not a char boundary panics, and the layers
/// slice a lot: throw mixed scripts, digits, separators and trigger words at
/// them, and check the invariants on every result.
#[test]
fn random_text_keeps_invariants() {
    const PIECES: &[&str] = &[
        "1",
        "4",
        "9",
        "0",
        "12",
        "555",
        "-",
        "/",
        ".",
        ":",
        " ",
        "  ",
        "#",
        "+",
        "(",
        ")",
        "@",
        "é",
        "ñ",
        "—",
        "’",
        "😀",
        "日本",
        "\u{301}",
        "A",
        "Z",
        "x",
        "Dr.",
        "MRN",
        "SSN",
        "my name is ",
        "I'm ",
        "Maria",
        "Smith",
        "May",
        "March",
        "de",
        "card ",
        "routing ",
        "DOB ",
        "zip ",
        "from ",
        "St. ",
        "Apt ",
        "Street",
        "www.",
        "http://",
        ".com",
        "\n",
        "IBAN ",
        "GB82",
        "VIN ",
        "age ",
    ];
    let r = Redactor::new();
    let mut rng = StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let len = rng.random_range(0..24);
        let text: String = (0..len)
            .map(|_| *PIECES.choose(&mut rng).expect("a non-empty list"))
            .collect();
        let n = text.chars().count();
        let spans = r.find(&text);
        for w in spans.windows(2) {
            assert!(w[0].end <= w[1].start, "{text:?}: {spans:?}");
        }
        for s in &spans {
            assert!(s.start < s.end && s.end <= n, "{text:?}: {s:?}");
        }
        let redacted = r.redact(&text);
        assert_eq!(redacted.spans, spans, "{text:?}");
        let _ = r.mask(&text);
    }
}

#[test]
fn an_intersection_is_one_address_even_after_an_abbreviation() {
    let r = Redactor::new();
    let span = |text: &str, part: &str| {
        let start = text[..text.find(part).unwrap()].chars().count();
        Span {
            start,
            end: start + part.chars().count(),
            kind: Kind::Address,
            score: 0.7,
        }
    };
    for (text, a, b) in [
        (
            "meet at the corner of Main St. and Oak Ave",
            "Main St.",
            "Oak Ave",
        ),
        (
            "meet at the corner of Main St and Oak Ave",
            "Main St",
            "Oak Ave",
        ),
    ] {
        let spans = r.find_with(text, &[span(text, a), span(text, b)]);
        let got: Vec<(Kind, String)> = spans.iter().map(|s| (s.kind, substr(text, s))).collect();
        let whole = &text[text.find("the corner").unwrap()..];
        assert_eq!(got, vec![(Kind::Address, whole.to_string())], "{text}");
    }
    // Two streets in one sentence are not an intersection.
    let text = "I moved from Main St. and then to Oak Ave";
    let spans = r.find_with(text, &[span(text, "Main St."), span(text, "Oak Ave")]);
    assert_eq!(spans.len(), 2);
}

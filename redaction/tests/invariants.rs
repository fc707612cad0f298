//! The redactor's output contract, checked on a few thousand generated
//! strings: the stable, deterministic counterpart of the fuzz target in
//! `redaction/fuzz`, so that CI catches a broken invariant without nightly.
//!
//! The strings are glued together from fragments that steer the rule layers
//! into their corners (digit runs with separators, names, trigger words,
//! e-mail and URL punctuation) and from text that tends to break char/byte
//! bookkeeping (multi-byte letters, letters whose case mapping changes
//! length, emoji sequences, combining marks, bidi controls, unusual
//! whitespace).

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use redaction::{Kind, Redactor, Span};

const FRAGMENTS: &[&str] = &[
    // Identifiers, whole.
    "John Smith",
    "Maria Lopez",
    "03/04/1961",
    "3/4/61",
    "1961-03-04",
    "March 3rd",
    "(555) 123-4567",
    "+44 20 7946 0958",
    "555.123.4567 ext 12",
    "jane.doe@example.com",
    "078-05-1120",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "192.168.0.1",
    "2001:db8::ff00:42:8329",
    "https://portal.example.org/patient/7781234?acct=88231904",
    "www.janedoe.me",
    "1EG4-TE5-MK73",
    "120 Maple Street, Apt 4B",
    "Springfield, IL 62704",
    "XWB928374651",
    "A1234567",
    // Triggers and titles.
    "DOB",
    "DOB:",
    "MRN",
    "MRN #",
    "SSN",
    "member ID",
    "group",
    "acct #",
    "Rx #",
    "my name is",
    "I am",
    "call me at",
    "born on the",
    "driver's license",
    "IBAN",
    "routing",
    "zip",
    "Dr.",
    "dr",
    "ext",
    // Everyday words that are also names, and clinical numbers.
    "will",
    "May",
    "Grant",
    "bill",
    "mark",
    "Hope",
    "BP 142/91",
    "500 mg",
    "tooth #14",
    "101.5 F",
    "at 3pm",
    "10:30",
    "next Tuesday",
    "she's 93",
    "I'm 45",
    // Punctuation that identifiers are made of.
    "@",
    ".",
    "/",
    ":",
    "://",
    "#",
    "-",
    "+",
    "(",
    ")",
    ",",
    "'",
    "_",
    // Letters and marks that are more than one byte, or change length
    // when their case changes.
    "José",
    "Zoë",
    "Siobhán",
    "Straße",
    "İstanbul",
    "ı",
    "ﬀ",
    "Ω",
    "Жанна",
    "王伟",
    "محمد",
    "שלום",
    "١٩٦١",
    "e\u{301}",
    "\u{301}\u{301}",
    "a\u{308}\u{323}",
    "😀",
    "👩\u{200d}⚕\u{fe0f}",
    "🇺🇸",
    "👍🏽",
    "\u{202e}",
    "\u{202c}",
    "\u{200f}",
    "\u{fffd}",
];

const SPACES: &[&str] = &[
    " ", " ", " ", "", "\t", "\n", "\r\n", "\u{a0}", "\u{2003}", "\u{3000}", "\u{200b}", "\u{feff}",
];

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs.choose(rng).copied().expect("a non-empty list")
}

fn digits_with_separators(rng: &mut StdRng, out: &mut String) {
    let n = rng.random_range(1..=20);
    for i in 0..n {
        if i > 0 && rng.random_ratio(1, 4) {
            out.push_str(pick(rng, &["-", " ", ".", "/", "(", ")", "--"]));
        }
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
}

fn message(rng: &mut StdRng) -> String {
    let mut out = String::new();
    for _ in 0..rng.random_range(1..=12) {
        match rng.random_range(0..10) {
            0..=5 => out.push_str(pick(rng, FRAGMENTS)),
            6 | 7 => digits_with_separators(rng, &mut out),
            // Any Unicode scalar value, uniformly.
            8 => out.push(rng.random::<char>()),
            _ => {
                let fragment = pick(rng, FRAGMENTS);
                if rng.random_bool(0.5) {
                    out.push_str(&fragment.to_uppercase());
                } else {
                    out.push_str(&fragment.to_lowercase());
                }
            }
        }
        out.push_str(pick(rng, SPACES));
    }
    out
}

#[test]
fn generated_text_keeps_the_contract() {
    let redactor = Redactor::new();
    // Seeded: the same strings on every run.
    let mut rng = StdRng::seed_from_u64(0x5eed_cafe_f00d_d00d);
    let mut kinds = std::collections::HashSet::new();
    for _ in 0..4000 {
        let text = message(&mut rng);
        check(&redactor, &text);
        kinds.extend(redactor.find(&text).iter().map(|s| s.kind));
    }
    // The strings must reach most layers, or the test checks little.
    assert!(kinds.len() >= 15, "only {kinds:?} found");
}

#[test]
fn edge_cases_keep_the_contract() {
    let redactor = Redactor::new();
    let long_digits = "1".repeat(500);
    let long_dashes = "1-".repeat(250);
    let long_words = "DOB MRN ".repeat(100);
    let cases = [
        "",
        " ",
        "\n\n\t",
        "\u{fffd}",
        "a",
        "1",
        "@",
        "Dr.",
        "DOB",
        "\u{301}",
        long_digits.as_str(),
        long_dashes.as_str(),
        long_words.as_str(),
        "4111111111111111\u{301}",
        "İİİİ 03/04/1961 İİİİ",
        "ﬀﬀ John Smith ﬀﬀ",
    ];
    for text in cases {
        check(&redactor, text);
    }
}

// --- A copy of `check` in redaction/fuzz/fuzz_targets/redact.rs: keep the
// two the same. ---

/// The redactor's output contract on `text`.
///
/// - `find`, `redact` and `mask` do not panic;
/// - every span is non-empty and inside the text, in chars;
/// - spans are sorted by start and do not overlap;
/// - `redact(text).spans == find(text)`;
/// - `redact(text).text` is the text with each span replaced by its kind's
///   placeholder, and nothing else changed;
/// - `mask(text)` is the same, except that a card or account number may
///   show as "XXXX-XXXX-XXXX-1234" or "XXXX1234", where 1234 are the digits
///   that end the number.
fn check(redactor: &Redactor, text: &str) {
    check_with(redactor, text, &[]);
    check_with(redactor, text, &model_like(text));
}

/// Candidates of the kind a model passes in (through `find_with` and
/// friends): every word, with kinds in turn, and one span past the end, so
/// that the clinical veto, the merge and the joining see overlapping,
/// adjacent and out-of-range input.
fn model_like(text: &str) -> Vec<Span> {
    const KINDS: [Kind; 5] = [
        Kind::Name,
        Kind::Address,
        Kind::Location,
        Kind::Zip,
        Kind::Phone,
    ];
    let mut spans = Vec::new();
    let mut start = None;
    let n = text.chars().count();
    for (i, c) in text.chars().chain([' ']).enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push(Span {
                    start: s,
                    end: i,
                    kind: KINDS[spans.len() % KINDS.len()],
                    score: 0.3,
                });
                start = None;
            }
            _ => {}
        }
    }
    spans.push(Span {
        start: n.saturating_sub(1),
        end: n + 5,
        kind: Kind::Name,
        score: 0.9,
    });
    spans
}

fn check_with(redactor: &Redactor, text: &str, extra: &[Span]) {
    let found = redactor.find_with(text, extra);
    let redacted = redactor.redact_with(text, extra);
    let masked = redactor.mask_with(text, extra);
    let chars: Vec<char> = text.chars().collect();

    for s in &found {
        assert!(
            s.start < s.end && s.end <= chars.len(),
            "span {s:?} out of range for {} chars in {text:?}",
            chars.len()
        );
    }
    for pair in found.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "spans {:?} and {:?} overlap or are out of order in {text:?}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(
        redacted.spans, found,
        "redact and find disagree on {text:?}"
    );

    let mut expected = String::with_capacity(text.len());
    let mut at = 0;
    for s in &found {
        expected.extend(&chars[at..s.start]);
        expected.push_str(s.kind.placeholder());
        at = s.end;
    }
    expected.extend(&chars[at..]);
    assert_eq!(redacted.text, expected, "redacted text of {text:?}");

    check_mask(&masked, &chars, &found, text);
}

fn check_mask(masked: &str, chars: &[char], found: &[Span], text: &str) {
    let mut rest = masked;
    let mut at = 0;
    for s in found {
        let gap: String = chars[at..s.start].iter().collect();
        rest = rest
            .strip_prefix(gap.as_str())
            .unwrap_or_else(|| panic!("mask changed text outside spans: {masked:?} of {text:?}"));
        rest = match rest.strip_prefix(s.kind.placeholder()) {
            Some(r) => r,
            None => {
                let prefix = match s.kind {
                    Kind::Card => "XXXX-XXXX-XXXX-",
                    Kind::Account => "XXXX",
                    _ => panic!("mask did not replace {s:?}: {masked:?} of {text:?}"),
                };
                let r = rest
                    .strip_prefix(prefix)
                    .unwrap_or_else(|| panic!("mask of {s:?} is wrong: {masked:?} of {text:?}"));
                let last = r.get(..4).unwrap_or_default();
                let value: String = chars[s.start..s.end].iter().collect();
                assert!(
                    last.len() == 4
                        && last.bytes().all(|b| b.is_ascii_digit())
                        && value
                            .trim_end_matches(|c: char| !c.is_ascii_digit())
                            .ends_with(last),
                    "mask of {s:?} shows {last:?}, not the last four digits: {masked:?} of {text:?}"
                );
                &r[4..]
            }
        };
        at = s.end;
    }
    let tail: String = chars[at..].iter().collect();
    assert_eq!(rest, tail, "mask changed the end of {text:?}");
}

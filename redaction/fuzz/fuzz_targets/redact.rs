//! Fuzzes the rule layers of `redaction::Redactor` (patterns, context,
//! dictionaries) with arbitrary text and checks the output contract that
//! the rest of Carechat relies on: see [`check`]. Run it from
//! `redaction/fuzz` with `cargo +nightly fuzz run redact`.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use redaction::{Kind, Redactor, Span};

static REDACTOR: LazyLock<Redactor> = LazyLock::new(Redactor::new);

fuzz_target!(|data: &[u8]| {
    // Lossy rather than skipping invalid UTF-8, so that every input reaches
    // the redactor; U+FFFD is text a browser can send too.
    let text = String::from_utf8_lossy(data);
    check(&REDACTOR, &text);
});

/// The redactor's output contract on `text`. Copied in
/// `redaction/tests/invariants.rs`, which runs it on stable: keep the two
/// copies the same.
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

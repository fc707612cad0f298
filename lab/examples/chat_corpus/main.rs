//! Generates a synthetic, labelled corpus of what patients type into a
//! medical or dental practice's website chat, so that the redactor can be
//! measured on text shaped like Carechat's traffic (short, informal, often
//! lowercase, sometimes misspelt, sometimes several identifiers in one line)
//! rather than only on presidio-research's generic sentences.
//!
//! ```text
//! cargo run --release -p carechat-lab --example chat_corpus -- --count 2000 --seed 7 > chat.json
//! carechat eval redact chat.json        # --rules-only: the rule layers alone
//! ```
//!
//! `--count` (default 2000) is the number of messages, `--seed` (default 7)
//! seeds the RNG: the same seed gives byte-identical output (for the same
//! `Cargo.lock`, since `fake`'s word lists are part of the output). A summary
//! goes to stderr.
//!
//! The output is one JSON array in presidio-research's format:
//! `[{"full_text": str, "spans": [{"entity_type": str, "entity_value": str,
//! "start_position": int, "end_position": int}]}]`, offsets in Unicode chars,
//! end exclusive, and `entity_value` always equals those chars of `full_text`
//! (asserted while generating).
//!
//! Messages come from about 190 hand-written templates (130 with
//! identifiers, 60 without), filled with `fake`'s English first names,
//! surnames, street names and states, with lists of non-Anglo, accented,
//! apostrophised and hyphenated names beside them, and then roughened the
//! way chat is: a greeting or a "thx", all lowercase, a typo (in the words
//! around identifiers, never in them), no final full stop, two messages run
//! together. About a quarter of the messages hold no identifier at all. The
//! templates were written from what patients type, not from the redactor's
//! rules, so that the corpus tests the redactor rather than mirrors it.
//!
//! # What is labelled
//!
//! Only the identifier itself, never the words that announce it ("MRN",
//! "my DOB is", "Dr.").
//!
//! - `PERSON`: patients, relatives and staff, full names or first names
//!   alone; for "Dr. Okafor" only "Okafor". A possessive "'s" is left out.
//! - `ADDRESS`: a street address, including the unit, city, state and ZIP
//!   when they are written together with it as one address; PO boxes.
//! - `LOCATION`: a city, town or county on its own.
//! - `ZIP_CODE`: a ZIP (or ZIP+4) on its own.
//! - `DATE_TIME`: birth dates and appointment dates that name a day and a
//!   month, the whole expression including the year when written ("March
//!   3rd 1961" in "born on March 3rd 1961", "3rd of March 1961" in "born on
//!   the 3rd of March 1961"); a time next to the date ("at 3pm") is not part
//!   of it.
//! - `AGE`: ages over 89, just the number ("93" in "she's 93 years old").
//! - `PHONE_NUMBER`: US and international shapes, with the extension when
//!   one is written ("(312) 555-0188 ext 12").
//! - `EMAIL_ADDRESS`, `US_SSN`, `CREDIT_CARD` (Luhn-valid), `IBAN_CODE`
//!   (mod-97-valid), `US_DRIVER_LICENSE`, `IP_ADDRESS` (v4 and v6), `URL`
//!   (patient-portal links carrying identifiers, personal sites, photo
//!   shares).
//! - `MEDICAL_RECORD_NUMBER` (MRN, chart number, patient id),
//!   `HEALTH_PLAN_ID` (member, subscriber, policy, group, Medicare and
//!   Medicaid numbers), `ACCOUNT_NUMBER` (billing accounts), `OTHER_ID`
//!   (claim, prescription, referral, prior-authorisation and confirmation
//!   numbers): the value only, without a leading "#".
//!
//! # What is not labelled
//!
//! Clinical and scheduling text that merely looks like an identifier:
//! readings ("BP 142/91", "138 over 85", "pain 7/10", "A1C 7.2",
//! "101.5 F", weights), doses ("500 mg metformin twice daily", "take 2
//! tablets 3 times a day"), relative days and times ("next Tuesday",
//! "tomorrow morning", "at 3pm", "10:30"), years alone ("in 2019", "since
//! 2015"; Safe Harbor keeps years), durations, tooth numbers ("tooth #14"),
//! ages of 89 and under, "Dr." with no name after it, insurers (Aetna, Blue
//! Cross), money, and everyday words that are also names ("will", "may",
//! "grant", "bill", "mark", "hope").

mod contact;
mod dates;
mod generator;
mod lists;
mod messages;
mod numbers;
mod people;
mod sample;
mod templates;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use crate::generator::Gen;
use crate::sample::Sample;
use crate::templates::{NEGATIVE, POSITIVE};

const USAGE: &str = "usage: chat_corpus [--count N] [--seed N] > chat.json";

/// Every template expands, positives carry a label and negatives none.
fn check_templates() {
    let mut g = Gen::new(0);
    g.me = g.person();
    g.other = g.person();
    let mut seen = std::collections::HashSet::new();
    for (templates, positive) in [(POSITIVE, true), (NEGATIVE, false)] {
        for t in templates {
            assert!(seen.insert(*t), "duplicate template {t:?}");
            for _ in 0..20 {
                let labelled = g.expand(t).iter().any(|p| p.label.is_some());
                assert_eq!(labelled, positive, "template {t:?}");
            }
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<(usize, u64)>, String> {
    let (mut count, mut seed) = (2000usize, 7u64);
    while let Some(arg) = args.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--count" | "--seed" => {}
            _ => return Err(format!("unknown argument {flag}")),
        }
        let value = match value.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--count" => count = value.parse().map_err(|e| format!("--count {value}: {e}"))?,
            _ => seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
        }
    }
    Ok(Some((count, seed)))
}

fn main() -> ExitCode {
    let (count, seed) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(v)) => v,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("chat_corpus: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    check_templates();
    let mut g = Gen::new(seed);
    let samples: Vec<Sample> = (0..count).map(|_| g.message()).collect();
    let json = serde_json::to_string_pretty(&samples).expect("samples serialise");
    if let Err(e) = writeln!(std::io::stdout().lock(), "{json}") {
        eprintln!("chat_corpus: writing stdout: {e}");
        return ExitCode::FAILURE;
    }

    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for s in samples.iter().flat_map(|s| &s.spans) {
        *by_type.entry(s.entity_type).or_default() += 1;
    }
    let empty = samples.iter().filter(|s| s.spans.is_empty()).count();
    eprintln!(
        "chat_corpus: {count} messages from {} templates ({} without identifiers), seed {seed}",
        POSITIVE.len() + NEGATIVE.len(),
        empty
    );
    for (t, n) in by_type {
        eprintln!("  {t:<22} {n}");
    }
    ExitCode::SUCCESS
}

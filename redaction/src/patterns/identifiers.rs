//! Numbers that carry their own proof: formatted SSNs, payment cards (Luhn),
//! IBANs (mod 97), and VINs, Medicare MBIs and DEA numbers (check digits).

use regex::Regex;

use crate::Kind;
use crate::checksum::{dea_valid, iban_valid, luhn_valid, mbi_valid, ssn_plausible, vin_valid};
use crate::text::{self, Digits, Hit, ascii, each_match, number_bounded, word_bounded};

const SCORE_SSN: f32 = 0.85;
const SCORE_CARD: f32 = 0.9;
const SCORE_IBAN: f32 = 0.95;
const SCORE_VIN: f32 = 0.9;
const SCORE_MBI: f32 = 0.85;
const SCORE_DEA: f32 = 0.85;

pub(super) struct Identifiers {
    ssn: Regex,
    digit_run: Regex,
    iban: Regex,
    vin: Regex,
    mbi: Regex,
    dea: Regex,
}

impl Identifiers {
    pub(super) fn build() -> Identifiers {
        Identifiers {
            ssn: ascii(r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}"),
            digit_run: ascii(r"\d+(?:[ -]\d+)*"),
            iban: ascii(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"),
            vin: ascii(r"\b[A-HJ-NPR-Z0-9]{17}\b"),
            mbi: ascii(r"\b[1-9][A-Z][A-Z0-9]\d-?[A-Z][A-Z0-9]\d-?[A-Z]{2}\d{2}\b"),
            dea: ascii(r"\b[A-Z][A-Z9]\d{7}\b"),
        }
    }

    pub(super) fn ssns(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.ssn, text, |s, e| {
            let ok = number_bounded(text, s, e)
                && Digits::of(&text[s..e]).is_some_and(|d| ssn_plausible(d.as_str()));
            if ok {
                out.push(Hit::new(s, e, Kind::Ssn, SCORE_SSN));
            }
            ok
        });
    }

    /// Card numbers: runs of digit groups, where a run may hold more than the
    /// card ("4111 1111 1111 1111 exp 12 28" does not, but "card 4111 1111
    /// 1111 1111 2028" does), so every contiguous group range is tried,
    /// longest first.
    pub(super) fn cards(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.digit_run.find_iter(text) {
            let run = m.as_str();
            if text::count_digits(run) < 13 || !word_bounded(text, m.start(), m.end()) {
                continue;
            }
            let mut groups: Vec<(usize, usize)> = Vec::with_capacity(8);
            let mut start = 0;
            for (i, c) in run.char_indices() {
                if c == ' ' || c == '-' {
                    groups.push((start, i));
                    start = i + 1;
                }
            }
            groups.push((start, run.len()));
            let mut i = 0;
            while i < groups.len() {
                let mut found = None;
                for j in (i..groups.len()).rev() {
                    let (s, e) = (groups[i].0, groups[j].1);
                    let cand = &run[s..e];
                    if let Some(d) = Digits::of(cand)
                        && (13..=19).contains(&d.len())
                        && card_like(cand, d.as_str())
                        && number_bounded(text, m.start() + s, m.start() + e)
                    {
                        found = Some((j, s, e));
                        break;
                    }
                }
                match found {
                    Some((j, s, e)) => {
                        out.push(Hit::new(
                            m.start() + s,
                            m.start() + e,
                            Kind::Card,
                            SCORE_CARD,
                        ));
                        i = j + 1;
                    }
                    None => i += 1,
                }
            }
        }
    }

    pub(super) fn ibans(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.iban, text, |s, e| {
            let Some(end) = longest_iban(&text[s..e]) else {
                return false;
            };
            out.push(Hit::new(s, s + end, Kind::Iban, SCORE_IBAN));
            true
        });
    }

    /// Identifiers with a distinctive shape of their own: VINs, Medicare
    /// MBIs and DEA numbers.
    pub(super) fn codes(&self, text: &str, out: &mut Vec<Hit>) {
        if !text.bytes().any(|b| b.is_ascii_uppercase()) {
            return;
        }
        for m in self.vin.find_iter(text) {
            let v = m.as_str();
            if v.bytes().any(|b| b.is_ascii_uppercase()) && vin_valid(v) {
                out.push(Hit::new(m.start(), m.end(), Kind::Vehicle, SCORE_VIN));
            }
        }
        for m in self.mbi.find_iter(text) {
            let dashes = m.as_str().matches('-').count();
            if (dashes == 0 || dashes == 2)
                && Digits::alnum_of(m.as_str()).is_some_and(|d| mbi_valid(d.as_str()))
            {
                out.push(Hit::new(m.start(), m.end(), Kind::MemberId, SCORE_MBI));
            }
        }
        for m in self.dea.find_iter(text) {
            if dea_valid(m.as_str()) {
                out.push(Hit::new(m.start(), m.end(), Kind::License, SCORE_DEA));
            }
        }
    }
}

/// Whether a digit string with separators reads as a card number when no
/// trigger says so: it passes Luhn, is not one repeated digit, and is either
/// 15-16 digits long (Amex, Visa, Mastercard, Discover) or grouped the way
/// cards are printed (fours, or Amex's 4-6-5).
pub(crate) fn card_like(cand: &str, digits: &str) -> bool {
    if !luhn_valid(digits) || digits.bytes().all(|b| b == digits.as_bytes()[0]) {
        return false;
    }
    if matches!(digits.len(), 15 | 16) {
        return true;
    }
    let sizes: Vec<usize> = cand.split([' ', '-']).map(str::len).collect();
    sizes.len() >= 4 && sizes[..sizes.len() - 1].iter().all(|&n| n == 4)
}

/// The byte length of the longest prefix of `cand` that ends between groups
/// and is a valid IBAN, trying longer prefixes first.
pub(crate) fn longest_iban(cand: &str) -> Option<usize> {
    let mut ends: Vec<usize> = cand
        .match_indices(' ')
        .map(|(i, _)| i)
        .chain(std::iter::once(cand.len()))
        .collect();
    // Unspaced IBANs have one end; spaced ones end after a group.
    if ends.len() == 1 {
        ends = (15..=cand.len().min(34)).collect();
    }
    ends.iter()
        .rev()
        .copied()
        .find(|&end| Digits::alnum_of(&cand[..end]).is_some_and(|d| iban_valid(d.as_str())))
}

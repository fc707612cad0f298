//! The value after a trigger: skipping the words between ("number is",
//! "ending in"), then reading the shape the trigger asked for, with a
//! checksum raising the score where the shape has one.

use regex::Regex;

use crate::Kind;
use crate::checksum::{aba_valid, dea_valid, luhn_valid, npi_valid};
use crate::patterns::{age_over_89, longest_iban, numeric_date_valid};
use crate::text::{self, Digits, Hit, ascii, number_bounded};

use super::triggers::Shape;

/// A trigger vouches for its value: scored above the bare patterns so that
/// "account 4111111111111111" is an account even though it passes Luhn.
const SCORE_VALUE: f32 = 0.92;
const SCORE_CHECKED: f32 = 0.95;
const SCORE_UNCHECKED: f32 = 0.7;
const SCORE_AGE: f32 = 0.9;

/// Words that may stand between a trigger and its value: "member ID
/// *number is* XYZ123", "account *ending in* 4321".
const CONNECTORS: &[&str] = &[
    "number", "numbers", "num", "nbr", "no", "nr", "is", "was", "are", "code", "id", "ending",
    "ends", "in", "on", "with", "file", "es", "numero", "número", "de", "del",
];

/// Words that make a number after "I am" something other than an age.
const UNITS: &[&str] = &[
    "percent", "kg", "kgs", "kilos", "lb", "lbs", "pounds", "mg", "ml", "cm", "mm", "in", "inches",
    "ft", "feet", "miles", "mile", "km", "min", "mins", "minutes", "hours", "hrs", "days", "weeks",
    "months", "times", "tablets", "pills", "dollars", "bucks", "degrees", "bpm", "over", "steps",
    "calories", "units",
];

pub(super) struct Values {
    ssn: Regex,
    digits: Regex,
    code: Regex,
    phone: Regex,
    date: Regex,
    zip: Regex,
    plate: Regex,
    vin: Regex,
    iban: Regex,
    iban_groups: Regex,
    dea: Regex,
    age: Regex,
}

impl Values {
    pub(super) fn build() -> Values {
        Values {
            ssn: ascii(r"^(?:\d{3}[- ]?\d{2}[- ]?\d{4}|\d{4})"),
            digits: ascii(r"^\d+(?:[ -]\d+)*"),
            code: ascii(r"^[A-Za-z0-9]+(?:[-./][A-Za-z0-9]+)*(?: \d{3,})*"),
            phone: ascii(r"^\+?\(?\d[\d(). -]{5,22}\d"),
            date: ascii(r"^(?:\d{1,2}[/.-]\d{1,2}(?:[/.-](?:\d{4}|\d{2}))?|\d{8}|\d{6})"),
            zip: ascii(r"^\d{5}(?:-\d{4})?"),
            plate: ascii(r"^[A-Za-z0-9]{2,8}(?:[ -][A-Z0-9]{1,5}\b)?"),
            vin: ascii(r"^[A-HJ-NPR-Za-hj-npr-z0-9]{17}"),
            iban: ascii(r"^[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}"),
            iban_groups: ascii(r"^[A-Za-z]{2}\d{2}(?: ?[A-Z0-9]{1,4})+"),
            dea: ascii(r"^[A-Za-z]{2}\d{7}"),
            age: ascii(r"^\d{2,3}"),
        }
    }

    /// The value after a trigger ending at byte `at`.
    pub(super) fn value(
        &self,
        text: &str,
        at: usize,
        kind: Kind,
        shape: Shape,
        out: &mut Vec<Hit>,
    ) {
        let v = skip_connectors(text, at);
        let rest = &text[v..];
        let find = |re: &Regex| {
            re.find(rest)
                .map(|m| (v, v + m.end()))
                .filter(|&(s, e)| number_bounded(text, s, e))
        };
        let mut push = |(s, e): (usize, usize), kind: Kind, score: f32| {
            out.push(Hit::new(s, e, kind, score));
        };
        match shape {
            Shape::Ssn => {
                if let Some(r) = find(&self.ssn) {
                    push(r, kind, SCORE_CHECKED);
                }
            }
            Shape::Routing => {
                if let Some((s, e)) = find(&self.digits)
                    && let Some(d) = Digits::of(&text[s..e])
                    && d.len() == 9
                {
                    let score = if aba_valid(d.as_str()) {
                        SCORE_CHECKED
                    } else {
                        SCORE_UNCHECKED
                    };
                    push((s, e), kind, score);
                }
            }
            Shape::Card => {
                // Not `find`: the run may go on into an expiry date ("4111 ...
                // 1111 12/28"), and card_prefix only takes whole groups.
                if let Some(m) = self.digits.find(rest)
                    && let Some((end, score)) =
                        card_prefix(m.as_str(), |end| number_bounded(text, v, v + end))
                {
                    push((v, v + end), kind, score);
                }
            }
            Shape::Npi => {
                if let Some((s, e)) = find(&self.digits)
                    && let Some(d) = Digits::of(&text[s..e])
                    && d.len() == 10
                {
                    let score = if npi_valid(d.as_str()) {
                        SCORE_CHECKED
                    } else {
                        SCORE_UNCHECKED
                    };
                    push((s, e), kind, score);
                } else {
                    self.code(text, v, kind, 3, false, out);
                }
            }
            Shape::Dea => {
                if let Some((s, e)) = find(&self.dea) {
                    let score = if dea_valid(&text[s..e]) {
                        SCORE_CHECKED
                    } else {
                        SCORE_VALUE
                    };
                    push((s, e), kind, score);
                } else {
                    self.code(text, v, kind, 3, false, out);
                }
            }
            Shape::Vin => {
                if let Some((s, e)) = find(&self.vin)
                    && text[s..e].bytes().any(|b| b.is_ascii_digit())
                {
                    push((s, e), kind, SCORE_CHECKED);
                } else {
                    self.code(text, v, kind, 3, false, out);
                }
            }
            Shape::Iban => {
                if let Some(m) = self.iban.find(rest)
                    && let Some(end) = longest_iban(m.as_str())
                {
                    push((v, v + end), kind, SCORE_CHECKED);
                    return;
                }
                if let Some(m) = self.iban_groups.find(rest) {
                    push((v, v + m.end()), kind, SCORE_UNCHECKED);
                }
            }
            Shape::Phone => {
                if let Some((s, e)) = find(&self.phone)
                    && (7..=15).contains(&text::count_digits(&text[s..e]))
                {
                    push((s, e), kind, SCORE_VALUE);
                }
            }
            Shape::Date => {
                if let Some((s, e)) = find(&self.date)
                    && compact_date_valid(&text[s..e])
                {
                    push((s, e), kind, SCORE_CHECKED);
                }
            }
            Shape::LooseDate => {
                if let Some((s, e)) = find(&self.date)
                    && text[s..e].contains('/')
                    && compact_date_valid(&text[s..e])
                    && !quantity_follows(text, e)
                {
                    push((s, e), kind, SCORE_VALUE);
                }
            }
            Shape::Zip => {
                if let Some(r) = find(&self.zip) {
                    push(r, kind, SCORE_VALUE);
                }
            }
            Shape::Plate => {
                if let Some(m) = self.plate.find(rest) {
                    let plate = m.as_str();
                    // The second group only belongs to the plate when the
                    // first is letters: "ABC 1234", not "7XYZ123 yesterday".
                    let end = match plate.find([' ', '-']) {
                        Some(i)
                            if plate[..i].bytes().any(|b| b.is_ascii_digit())
                                && plate.as_bytes()[i] == b' ' =>
                        {
                            i
                        }
                        _ => plate.len(),
                    };
                    let plate = &plate[..end];
                    if plate.bytes().any(|b| b.is_ascii_digit())
                        && plate.bytes().filter(u8::is_ascii_alphanumeric).count() >= 4
                        && number_bounded(text, v, v + end)
                    {
                        push((v, v + end), kind, SCORE_VALUE);
                    }
                }
            }
            Shape::Code(min) => self.code(text, v, kind, min, false, out),
            Shape::Letters(min) => self.code(text, v, kind, min, true, out),
        }
    }

    /// A generic alphanumeric code with at least `min_digits` digits (or,
    /// with `letters`, in capitals without digits).
    fn code(
        &self,
        text: &str,
        v: usize,
        kind: Kind,
        min_digits: usize,
        letters: bool,
        out: &mut Vec<Hit>,
    ) {
        let Some(m) = self.code.find(&text[v..]) else {
            return;
        };
        let (s, e) = (v, v + m.end());
        let code = &text[s..e];
        let alnum = code.bytes().filter(u8::is_ascii_alphanumeric).count();
        let digits = text::count_digits(code);
        let caps_only = code.bytes().all(|b| !b.is_ascii_lowercase());
        let shaped = (digits >= min_digits && digits > 0) || (letters && caps_only && alnum >= 5);
        // A date after "claim" or "case" is the date, which the pattern
        // layer reports as such.
        let is_date =
            (code.contains('/') || code.matches('-').count() == 2) && numeric_date_valid(code);
        if shaped && (4..=40).contains(&alnum) && !is_date && number_bounded(text, s, e) {
            out.push(Hit::new(s, e, kind, SCORE_VALUE));
        }
    }

    pub(super) fn age(&self, text: &str, at: usize, out: &mut Vec<Hit>) {
        let mut i =
            at + text[at..].len() - text[at..].trim_start_matches([' ', '\t', ':', '=']).len();
        if i == at {
            return;
        }
        for _ in 0..2 {
            let word_end = text[i..]
                .find(|c: char| !c.is_ascii_alphabetic())
                .map_or(text.len(), |n| i + n);
            let word = &text[i..word_end];
            if [
                "now",
                "just",
                "almost",
                "nearly",
                "is",
                "about",
                "over",
                "currently",
                "turning",
            ]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
            {
                i = skip_spaces(text, word_end);
            } else {
                break;
            }
        }
        let Some(m) = self.age.find(&text[i..]) else {
            return;
        };
        let (s, e) = (i, i + m.end());
        if !number_bounded(text, s, e) || !age_over_89(&text[s..e]) {
            return;
        }
        // number_bounded already refused "92.5" and "92/60".
        if text[e..].starts_with(['%', '°', '$']) {
            return;
        }
        let next = skip_spaces(text, e);
        let unit_end = text[next..]
            .find(|c: char| !c.is_alphabetic())
            .map_or(text.len(), |n| next + n);
        let unit = &text[next..unit_end];
        if UNITS.iter().any(|u| unit.eq_ignore_ascii_case(u)) {
            return;
        }
        out.push(Hit::new(s, e, Kind::Age, SCORE_AGE));
    }
}

/// Whether the word after byte `e` makes the number before it a quantity:
/// "3/4 of a tablet", "1/2 tab", "8/10 pain scale".
fn quantity_follows(text: &str, e: usize) -> bool {
    let next = skip_spaces(text, e);
    let end = text[next..]
        .find(|c: char| !c.is_alphabetic())
        .map_or(text.len(), |n| next + n);
    let word = &text[next..end];
    UNITS.iter().any(|u| word.eq_ignore_ascii_case(u))
        || [
            "of", "tab", "tabs", "tablet", "pill", "dose", "doses", "cup", "cups", "scale",
            "strength",
        ]
        .iter()
        .any(|u| word.eq_ignore_ascii_case(u))
}

fn skip_spaces(text: &str, i: usize) -> usize {
    i + text[i..].len() - text[i..].trim_start_matches([' ', '\t']).len()
}

/// Past separators and connector words to where a trigger's value starts.
fn skip_connectors(text: &str, mut i: usize) -> usize {
    let start = i;
    'words: for _ in 0..8 {
        let rest = &text[i..];
        let trimmed = rest.trim_start_matches([' ', '\t', ':', '#', '=', '-', '–', '—', '(', '.']);
        i += rest.len() - trimmed.len();
        let word_len = trimmed
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(trimmed.len());
        let word = &trimmed[..word_len];
        if word.is_empty() {
            // "my zip's 78701", "member ID's X123": the contracted "is".
            for contraction in ["'s ", "’s "] {
                if i == start && trimmed.starts_with(contraction) {
                    i += contraction.len();
                    continue 'words;
                }
            }
            for sign in ["n°", "nº", "N°", "Nº"] {
                if trimmed.starts_with(sign) {
                    i += sign.len();
                }
            }
            break;
        }
        if !CONNECTORS.iter().any(|c| word.eq_ignore_ascii_case(c)) {
            break;
        }
        i += word_len;
        if text[i..].starts_with('.') {
            i += 1;
        }
    }
    i
}

/// The longest prefix of a digit run (ending between groups, and `bounded`
/// there) that reads as a card number after a card trigger, with its score:
/// Luhn-valid 12-19 digits score high; otherwise 13-19 digits, or a lone
/// last four.
fn card_prefix(run: &str, bounded: impl Fn(usize) -> bool) -> Option<(usize, f32)> {
    let ends: Vec<usize> = run
        .match_indices([' ', '-'])
        .map(|(i, _)| i)
        .chain(std::iter::once(run.len()))
        .filter(|&end| bounded(end))
        .collect();
    let digits_to = |end: usize| text::count_digits(&run[..end]);
    let valid = ends.iter().rev().find(|&&end| {
        (12..=19).contains(&digits_to(end))
            && Digits::of(&run[..end]).is_some_and(|d| luhn_valid(d.as_str()))
    });
    if let Some(&end) = valid {
        return Some((end, SCORE_CHECKED));
    }
    if let Some(&end) = ends
        .iter()
        .rev()
        .find(|&&end| (13..=19).contains(&digits_to(end)))
    {
        return Some((end, SCORE_UNCHECKED));
    }
    (run.len() == 4 && digits_to(4) == 4 && bounded(4)).then_some((4, SCORE_UNCHECKED))
}

/// A date of birth after a trigger: "3/4", "3/4/61", "030461", "19610304".
fn compact_date_valid(date: &str) -> bool {
    if date.contains(['/', '-', '.']) {
        return numeric_date_valid(date);
    }
    let n = |s: &str| s.parse::<u32>().unwrap_or(0);
    match date.len() {
        6 => numeric_date_valid(&format!("{}/{}", n(&date[..2]), n(&date[2..4]))),
        8 => {
            let (y, m, d) = (n(&date[..4]), n(&date[4..6]), n(&date[6..]));
            ((1900..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
                || numeric_date_valid(&format!("{}/{}", n(&date[..2]), n(&date[2..4])))
        }
        _ => false,
    }
}

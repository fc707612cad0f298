//! Dates (numeric, ISO, and with month names in English and Spanish) and
//! ages over 89, which Safe Harbor counts among a date's elements.

use regex::Regex;

use crate::Kind;
use crate::text::{Hit, ascii, each_match, number_bounded, unicode};

pub(crate) const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre";

const SCORE_DATE: f32 = 0.85;
const SCORE_AGE: f32 = 0.85;

pub(super) struct Dates {
    date_numeric: Regex,
    date_iso: Regex,
    date_month_year_numeric: Regex,
    date_month_day: Regex,
    date_day_month: Regex,
    date_month_year: Regex,
    age: Regex,
}

impl Dates {
    pub(super) fn build() -> Dates {
        Dates {
            date_numeric: ascii(
                r"\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})|\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})|\d{1,2}\.\d{1,2}\.\d{4}|\d{2}\.\d{2}\.\d{2}",
            ),
            date_iso: ascii(
                r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?",
            ),
            date_month_year_numeric: ascii(r"(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}"),
            date_month_day: ascii(&format!(
                r"(?i)\b({MONTHS})\b(\.?)\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"
            )),
            date_day_month: ascii(&format!(
                r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+|de\s+)?({MONTHS})\b(\.?)(?:,?\s+(?:de\s+|del\s+)?(\d{{4}})\b)?"
            )),
            date_month_year: ascii(&format!(
                r"(?i)\b({MONTHS})\b(\.?),?\s+(?:of\s+|de\s+|del\s+)?(\d{{4}})\b"
            )),
            age: unicode(
                r"(?i)\b(\d{2,3})(?:\s*-\s*|\s+)?(?:years?|yrs?)(?:\s*-\s*|\s+)old\b|\b(\d{2,3})\s*(?:y/o|y\.o\.|yo\b|años|anos\b)",
            ),
        }
    }

    pub(super) fn dates(&self, text: &str, out: &mut Vec<Hit>) {
        let mut push = |s, e| out.push(Hit::new(s, e, Kind::Date, SCORE_DATE));
        each_match(&self.date_numeric, text, |s, e| {
            let ok = number_bounded(text, s, e) && numeric_date_valid(&text[s..e]);
            if ok {
                push(s, e);
            }
            ok
        });
        each_match(&self.date_iso, text, |s, e| {
            // "1991-04-02 04:44:09": the time of day belongs to the date.
            let date = text[s..e].split([' ', 'T']).next().unwrap_or("");
            let mut parts = date
                .split(['-', '/'])
                .map(|p| p.parse::<u32>().unwrap_or(0));
            let (y, m, d) = (
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(0),
            );
            let ok = number_bounded(text, s, e)
                && (1900..=2100).contains(&y)
                && (1..=12).contains(&m)
                && (1..=31).contains(&d);
            if ok {
                push(s, e);
            }
            ok
        });
        // "04/2023": a month and a year are a date element too.
        each_match(&self.date_month_year_numeric, text, |s, e| {
            let ok = number_bounded(text, s, e);
            if ok {
                push(s, e);
            }
            ok
        });
        for c in self.date_month_day.captures_iter(text) {
            let (Some(month), Some(day)) = (c.get(1), c.get(3)) else {
                continue;
            };
            let year = c.get(4).filter(|y| year_ok(y.as_str()));
            let dotted = c.get(2).is_some_and(|d| !d.is_empty());
            // "March 3:30" is a time, "March 3.5" a number.
            if day_ok(day.as_str())
                && month_ok(month.as_str(), dotted || year.is_some())
                && number_bounded(
                    text,
                    day.start(),
                    day.end() + ordinal_len(&text[day.end()..]),
                )
            {
                let end = year.map_or(day.end() + ordinal_len(&text[day.end()..]), |y| y.end());
                push(month.start(), end);
            }
        }
        for c in self.date_day_month.captures_iter(text) {
            let (Some(day), Some(month)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let year = c.get(4).filter(|y| year_ok(y.as_str()));
            let dotted = c.get(3).is_some_and(|d| !d.is_empty());
            if day_ok(day.as_str())
                && month_ok(month.as_str(), dotted || year.is_some())
                && number_bounded(
                    text,
                    day.start(),
                    day.end() + ordinal_len(&text[day.end()..]),
                )
            {
                push(day.start(), year.map_or(month.end(), |y| y.end()));
            }
        }
        for c in self.date_month_year.captures_iter(text) {
            let (Some(month), Some(year)) = (c.get(1), c.get(3)) else {
                continue;
            };
            if year_ok(year.as_str()) && month_ok(month.as_str(), true) {
                push(month.start(), year.end());
            }
        }
    }

    pub(super) fn ages(&self, text: &str, out: &mut Vec<Hit>) {
        for c in self.age.captures_iter(text) {
            if let Some(n) = c.get(1).or_else(|| c.get(2))
                && age_over_89(n.as_str())
            {
                out.push(Hit::new(n.start(), n.end(), Kind::Age, SCORE_AGE));
            }
        }
    }
}

fn ordinal_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    if b.len() >= 2 {
        let suffix = [b[0].to_ascii_lowercase(), b[1].to_ascii_lowercase()];
        if matches!(&suffix, b"st" | b"nd" | b"rd" | b"th")
            && b.get(2).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            return 2;
        }
    }
    0
}

fn day_ok(day: &str) -> bool {
    day.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

fn year_ok(year: &str) -> bool {
    year.parse::<u32>()
        .is_ok_and(|y| (1900..=2100).contains(&y))
}

/// Whether a month word is one here. Only "may" is an everyday word next
/// to a number ("you may 2 pills"), so lowercase it needs a year (or a full
/// stop) to count.
fn month_ok(month: &str, confirmed: bool) -> bool {
    !month.eq_ignore_ascii_case("may") || month.starts_with('M') || confirmed
}

/// "3/4/61", "03.04.1961", "3-4-61": month/day or day/month, both plausible.
pub(crate) fn numeric_date_valid(date: &str) -> bool {
    let mut parts = date
        .split(['/', '-', '.'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let md = (1..=12).contains(&a) && (1..=31).contains(&b);
    let dm = (1..=31).contains(&a) && (1..=12).contains(&b);
    md || dm
}

pub(crate) fn age_over_89(n: &str) -> bool {
    n.parse::<u32>().is_ok_and(|n| (90..=130).contains(&n))
}

//! Contact details: e-mail and web addresses, IP addresses (v4 and v6), and
//! phone numbers in US and international shapes.

use std::net::Ipv6Addr;

use regex::Regex;

use crate::Kind;
use crate::text::{self, Digits, Hit, ascii, each_match, number_bounded, unicode};

const SCORE_EMAIL: f32 = 0.95;
const SCORE_URL: f32 = 0.9;
const SCORE_BARE_DOMAIN: f32 = 0.7;
const SCORE_IP: f32 = 0.85;
const SCORE_PHONE: f32 = 0.8;
const SCORE_BARE_PHONE: f32 = 0.5;
const SCORE_TRUNK_PHONE: f32 = 0.49;

pub(super) struct Contacts {
    email: Regex,
    url: Regex,
    bare_domain: Regex,
    ipv4: Regex,
    ipv6: Regex,
    phone: Regex,
    phone_bare: Regex,
    phone_intl: Regex,
    phone_paren: Regex,
    phone_trunk: Regex,
}

impl Contacts {
    pub(super) fn build() -> Contacts {
        Contacts {
            email: ascii(
                r"(?i)[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}",
            ),
            url: unicode(r#"(?i)(?:https?://|ftp://|www\.)[^\s<>"'()\[\]{}]+"#),
            bare_domain: ascii(
                r"(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.(?:com|org|net|edu|gov|io|info|biz|us|health|care)\b(?:/[!-~]*)?",
            ),
            ipv4: ascii(
                r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}",
            ),
            ipv6: ascii(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,8}(?:\.\d{1,3}){0,3}"),
            phone: ascii(
                r"(?i)(?:\+?1[ .-]?|001[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]?\d{4}(?:\s*(?:ext\.?|extension|x|\#)\s*\d{1,6})?",
            ),
            phone_bare: ascii(r"(?:\+?1[ .-]?)?\d{10}"),
            phone_intl: ascii(
                r"(?i)\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?:\s*(?:ext\.?|x)\s*\d{1,6})?",
            ),
            phone_paren: ascii(
                r"(?i)\(\d{2,4}\)[ .-]?(?:\d{3,4}[.-]\d{3,4}|\d{4} ?\d{4})(?:\s*(?:ext\.?|x)\s*\d{1,6})?",
            ),
            phone_trunk: ascii(r"\b0[1-9]\d{0,3}(?:[ .-]\d{2,8}){1,4}"),
        }
    }

    pub(super) fn emails(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.email.find_iter(text) {
            out.push(Hit::new(m.start(), m.end(), Kind::Email, SCORE_EMAIL));
        }
    }

    pub(super) fn urls(&self, text: &str, out: &mut Vec<Hit>) {
        let trim = |s: usize, e: usize| {
            s + text[s..e]
                .trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .len()
        };
        for m in self.url.find_iter(text) {
            let end = trim(m.start(), m.end());
            if end - m.start() > 4 {
                out.push(Hit::new(m.start(), end, Kind::Url, SCORE_URL));
            }
        }
        each_match(&self.bare_domain, text, |s, e| {
            // The domain of an e-mail address is the e-mail's.
            if text[..s].ends_with(['@', '.', '/']) {
                return false;
            }
            out.push(Hit::new(s, trim(s, e), Kind::Url, SCORE_BARE_DOMAIN));
            true
        });
    }

    pub(super) fn ipv4(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.ipv4, text, |s, e| {
            let ok = number_bounded(text, s, e);
            if ok {
                out.push(Hit::new(s, e, Kind::Ip, SCORE_IP));
            }
            ok
        });
    }

    pub(super) fn ipv6(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.ipv6, text, |s, e| {
            let cand = &text[s..e];
            let glued = |c: Option<char>| c.is_some_and(|c| text::is_word(c) || c == ':');
            let ok = cand.matches(':').count() >= 2
                && !glued(text::prev_char(text, s))
                && !glued(text::next_char(text, e))
                && cand.parse::<Ipv6Addr>().is_ok();
            if ok {
                out.push(Hit::new(s, e, Kind::Ip, SCORE_IP));
            }
            ok
        });
    }

    pub(super) fn phones(&self, text: &str, out: &mut Vec<Hit>) {
        let mut push = |re: &Regex, score: f32, check: &dyn Fn(&str) -> bool| {
            each_match(re, text, |s, e| {
                let ok = number_bounded(text, s, e) && check(&text[s..e]);
                if ok {
                    out.push(Hit::new(s, e, Kind::Phone, score));
                }
                ok
            });
        };
        push(&self.phone, SCORE_PHONE, &|p| {
            // Area codes never start with 0 or 1 (a leading 1 is the country).
            let number = p.split(['x', 'X', '#']).next().unwrap_or(p);
            Digits::of(number).is_some_and(|d| {
                let area = match d.len() {
                    11 => 1,
                    13 if d.as_str().starts_with("001") => 3,
                    _ => 0,
                };
                d.as_str().as_bytes().get(area).is_some_and(|&c| c >= b'2')
            })
        });
        push(&self.phone_bare, SCORE_BARE_PHONE, &|p| {
            let d = p.trim_start_matches(['+', '1', ' ', '.', '-']);
            // A run of one digit is a placeholder, not a number.
            d.len() >= 10 && d.as_bytes()[0] >= b'2' && d.bytes().any(|c| c != d.as_bytes()[0])
        });
        push(&self.phone_intl, SCORE_PHONE, &|p| {
            let number = p.split(['x', 'X', 'e', 'E']).next().unwrap_or(p);
            (8..=15).contains(&text::count_digits(number))
        });
        // "(027) 7972-805", "(11) 4706-6184": a bracketed area code.
        push(&self.phone_paren, SCORE_PHONE, &|p| {
            let number = p.split(['x', 'X', 'e', 'E']).next().unwrap_or(p);
            (8..=11).contains(&text::count_digits(number))
        });
        // "06-24312407", "079 4650 2145", "02.27.96.63.08": a trunk 0 and
        // nine to eleven digits in groups, which no date has.
        push(&self.phone_trunk, SCORE_TRUNK_PHONE, &|p| {
            let groups: Vec<&str> = p.split([' ', '.', '-']).collect();
            let dated = groups.len() >= 3
                && groups[0].len() <= 2
                && groups[1].len() <= 2
                && groups[2].len() == 4;
            (9..=11).contains(&text::count_digits(p)) && !dated
        });
        // A trunk number glued to more digit groups is part of something
        // longer (an IBAN, an account): drop it.
        out.retain(|h| {
            h.kind != Kind::Phone
                || h.score != SCORE_TRUNK_PHONE
                || !in_digit_run(text, h.start, h.end)
        });
    }
}

/// Whether `[s, e)` has another digit group right before or after it.
fn in_digit_run(text: &str, s: usize, e: usize) -> bool {
    let sep = [' ', '-', '.'];
    let before = text[..s].trim_end_matches(sep);
    let after = text[e..].trim_start_matches(sep);
    (before.len() < s && before.ends_with(|c: char| c.is_ascii_digit()))
        || (after.len() < text.len() - e && after.starts_with(|c: char| c.is_ascii_digit()))
}

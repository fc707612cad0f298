//! Street addresses: US and international streets, PO boxes, military
//! addresses and unit designators, and the address lines written under
//! them (an address block).

use regex::Regex;

use crate::Kind;
use crate::names::{self, Lexicon};
use crate::text::{self, Hit, ascii, each_capture, unicode};

/// Street suffixes that are also everyday words ("a 2 hour drive", "2 more
/// ways"): an address ending in one needs capitalised street words.
const AMBIGUOUS_SUFFIXES: &[&str] = &[
    "dr", "drive", "ct", "court", "pl", "place", "way", "ter", "terrace", "cir", "circle", "sq",
    "square", "trl", "trail", "loop", "pike", "plaza", "alley", "aly", "cres", "crescent", "av",
];

/// Words that do not occur in street names but do sit between a number and
/// a suffix-like word in ordinary sentences.
const NOT_STREET_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "and",
    "or",
    "my",
    "your",
    "his",
    "her",
    "our",
    "their",
    "i",
    "we",
    "you",
    "is",
    "are",
    "was",
    "it",
    "times",
    "time",
    "tablets",
    "tablet",
    "pills",
    "pill",
    "mg",
    "ml",
    "days",
    "day",
    "weeks",
    "week",
    "hours",
    "hour",
    "minutes",
    "minute",
    "mins",
    "min",
    "miles",
    "mile",
    "blocks",
    "block",
    "more",
    "other",
    "different",
    "years",
    "year",
    "old",
    "people",
    "kids",
    "children",
    "visits",
    "from",
    "with",
    "by",
    "per",
    "every",
    "each",
    "hr",
    "km",
    "cars",
    "lanes",
    "lane",
    "way",
    "long",
    "short",
];

const SCORE_ADDRESS: f32 = 0.8;

pub(super) struct Addresses {
    address: Regex,
    po_box: Regex,
    military: Regex,
    street_intl: Regex,
    unit: Regex,
}

impl Addresses {
    pub(super) fn build() -> Addresses {
        Addresses {
            address: ascii(
                r"(?i)\b\d{1,6}[a-z]?((?:\s+(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)\.?)?(?:\s+[a-z0-9][a-z0-9'-]*){1,4}?)\s+(street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|trail|trl|square|sq|alley|aly|loop|crescent|cres|pike|plaza)\b(?:\s+(?:nw|ne|sw|se)\b)?(?:,?\s*(?:apt|apartment|suite|ste|unit|fl|floor|bldg|\#)\.?\s*\#?\s*[a-z0-9-]{1,6}\b)?",
            ),
            military: unicode(
                r"\b(?:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{1,5}|(?:USS|USNS|USNV|USCGC)\s+\p{Lu}\p{Ll}+)\s*\n?\s*(?i:APO|FPO|DPO)\s+(?i:AA|AE|AP)\s+\d{5}\b",
            ),
            street_intl: unicode(
                r"(?:^|[\s,>:(])((?:(?i:via|viale|rua|rue|calle|avenida|strada|ul\.|ulica|trg|carrer|piazza|praça|largo|travessa|estrada|chaussée|chemin|allée)\s+(?:\p{Lu}[\p{L}'.-]*\s+|(?:de|da|do|dos|das|del|la|le|les|des|di|du|van|von|der)\s+){0,4}\p{Lu}[\p{L}'.-]*\.?|(?:\p{Lu}[\p{L}-]*\s+){0,2}\p{Lu}\p{L}{2,}(?:straße|strasse|str\.|weg|vej|vägen|gatan|gata|laan|straat|plein|dreef|steenweg|veien|vegen|katu)|(?:\p{Lu}[\p{L}-]*\s+){1,2}(?:út|utca|ulica|straße|strasse|str\.))\s+\d{1,4}[a-z]?)(?:$|[\s,.;)])",
            ),
            unit: ascii(r"(?i)\b(?:apt|apartment|suite|ste|unit)\b\.?\s*\#?\s*\d{1,5}[a-z]?\b"),
            po_box: ascii(r"(?i)\b(?:p\.?\s?o\.?|post\s+office)\s*box\s*\#?\s*\d{1,6}\b"),
        }
    }

    pub(super) fn addresses(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        let mut anchors: Vec<(usize, usize)> = Vec::new();
        each_capture(&self.address, text, |c| {
            let (Some(all), Some(words), Some(suffix)) = (c.get(0), c.get(1), c.get(2)) else {
                return false;
            };
            let ok = !text[..all.start()].ends_with(['$', '#', '.', '/', '-', ':'])
                && street_ok(words.as_str(), suffix.as_str());
            if ok {
                anchors.push((all.start(), all.end()));
            }
            ok
        });
        for m in self.po_box.find_iter(text) {
            anchors.push((m.start(), m.end()));
        }
        for c in self.street_intl.captures_iter(text) {
            if let Some(m) = c.get(1) {
                anchors.push((m.start(), m.end().min(text.len())));
            }
        }
        for m in self.military.find_iter(text) {
            anchors.push((m.start(), m.end()));
        }
        for m in self.unit.find_iter(text) {
            if let Some(start) = street_before_unit(text, lex, m.start()) {
                // A street on the line above and the unit are two hits, so
                // that quote marks between them stay.
                match text[start..m.start()].find('\n') {
                    Some(nl) => {
                        let street = text[start..start + nl].trim_end();
                        anchors.push((start, start + street.len()));
                        anchors.push((m.start(), m.end()));
                    }
                    None => anchors.push((start, m.end())),
                }
            }
        }
        for (s, e) in anchors {
            out.push(Hit::new(s, e, Kind::Address, SCORE_ADDRESS));
            address_block(text, lex, e, out);
        }
    }
}

/// The words between a house number and a street suffix must look like a
/// street name, and the suffixes that are also ordinary words need
/// capitalised names before them.
fn street_ok(words: &str, suffix: &str) -> bool {
    let words: Vec<&str> = words.split_whitespace().collect();
    if words.is_empty()
        || words
            .iter()
            .any(|w| NOT_STREET_WORDS.iter().any(|n| w.eq_ignore_ascii_case(n)))
    {
        return false;
    }
    let ambiguous = AMBIGUOUS_SUFFIXES
        .iter()
        .any(|a| suffix.eq_ignore_ascii_case(a));
    if ambiguous {
        let capitalised = |w: &str| {
            w.as_bytes()
                .first()
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        return capitalised(suffix) && words.iter().all(|w| capitalised(w));
    }
    true
}

/// Words that end a letter rather than continue an address block.
const CLOSERS: &[&str] = &[
    "thanks",
    "thank",
    "regards",
    "best",
    "cheers",
    "sincerely",
    "love",
    "hi",
    "hello",
    "please",
    "ok",
    "okay",
    "yes",
    "no",
    "sent",
    "call",
    "text",
];

/// Where the street of a unit designator ("Suite 976", "Apt. 831") starts:
/// the line above when the unit opens its own line ("36 Essex Rd\n Suite
/// 203"), or, on the same line, the house number that opens up to six
/// street words before it ("40 Rue Dielhère 446 Suite 976"). None when no
/// street with a number stands there ("I'm in suite 4 today").
fn street_before_unit(text: &str, lex: &Lexicon, unit: usize) -> Option<usize> {
    let line_start = text[..unit].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..unit];
    if before.trim_matches(LINE_MARKS).is_empty() {
        let prev_end = line_start.checked_sub(1)?;
        let prev_start = text[..prev_end].rfind('\n').map_or(0, |i| i + 1);
        let prev = &text[prev_start..prev_end];
        let line = prev.trim_matches(LINE_MARKS);
        let words: Vec<&str> = line.split_whitespace().collect();
        let ok = !words.is_empty()
            && words.len() <= 8
            && line.chars().count() <= 60
            && words.iter().any(|w| w.bytes().all(|b| b.is_ascii_digit()))
            && words.iter().all(|w| street_word(lex, w));
        return ok.then(|| prev_start + (prev.len() - prev.trim_start_matches(LINE_MARKS).len()));
    }
    // Same line: walk back over street words to the furthest house number.
    let mut start = None;
    let mut end = unit;
    for (n, w) in before
        .split(' ')
        .rev()
        .filter(|w| !w.is_empty())
        .take(6)
        .enumerate()
    {
        let Some(at) = text[..end].rfind(w) else {
            break;
        };
        end = at;
        if !street_word(lex, w) {
            break;
        }
        if w.bytes().all(|b| b.is_ascii_digit()) && w.len() <= 6 && n > 0 {
            start = Some(at);
        }
    }
    start
}

/// What may open or close a line of an address block besides the address:
/// indentation, quoting, and list bullets ("> ", "- ", "• ", and "???"
/// where a bullet lost its encoding).
const LINE_MARKS: [char; 9] = [' ', '\t', '>', '\r', '?', '*', '•', '·', '-'];

/// Street suffixes and unit words: words of an address line, although the
/// name lists hold them as never-names ("Road", "Suite").
const ADDRESS_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "place",
    "pl",
    "way",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "suite",
    "ste",
    "apt",
    "apartment",
    "unit",
    "floor",
    "fl",
    "bldg",
    "building",
];

/// A word that can stand in a street line: no sentence words, no
/// punctuation that ends a clause.
fn street_word(lex: &Lexicon, w: &str) -> bool {
    let w = w.trim_end_matches(['.', ',']);
    !w.is_empty()
        && !w.contains(['?', '!', ':', ';', '@', '(', ')', '"'])
        && !NOT_STREET_WORDS.iter().any(|n| w.eq_ignore_ascii_case(n))
        && !CLOSERS.iter().any(|n| w.eq_ignore_ascii_case(n))
        && (ADDRESS_WORDS.iter().any(|a| w.eq_ignore_ascii_case(a))
            || lex.lookup(w) & (names::STOP | names::TIME) == 0)
}

/// A line after a street that reads as the rest of an address: a unit, a
/// city, a region, a postcode or a country ("Apt. 831", "GUÉRET", "Sudan
/// 30046", "Dąbrowa Górnicza"), short, capitalised, with no sentence words.
fn address_line_ok(lex: &Lexicon, line: &str) -> bool {
    let line = line.trim_end_matches('.');
    let words: Vec<&str> = line.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= 4
        && line.chars().count() <= 40
        && text::count_digits(line) <= 6
        && line
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        && words.iter().all(|w| {
            street_word(lex, w)
                && w.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '\'' | '-' | ','))
        })
}

/// The rest of the block of an address that ends at `end`, one hit per
/// line: the rest of the same line when it holds only address words and
/// nothing follows them, then up to four following lines that read as
/// address lines (one blank line between them is allowed). Quote marks and
/// commas between the lines are left out.
fn address_block(text: &str, lex: &Lexicon, end: usize, out: &mut Vec<Hit>) {
    let mut push = |s: usize, e: usize| out.push(Hit::new(s, e, Kind::Address, SCORE_ADDRESS));
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let rest = text[end..line_end].trim_end_matches([' ', '\t', '\r']);
    let rest_words = rest.trim_start_matches([' ', ',']);
    if !rest_words.is_empty() {
        if !rest_words.contains(',') && address_line_ok(lex, rest_words) {
            let s = end + (rest.len() - rest_words.len());
            push(s, s + rest_words.trim_end_matches('.').len());
        } else {
            return;
        }
    }
    let mut at = line_end;
    let (mut lines, mut blanks) = (0, 0);
    while lines < 4 && at < text.len() {
        let ls = at + 1;
        let le = text[ls..].find('\n').map_or(text.len(), |i| ls + i);
        let raw = &text[ls..le];
        let line = raw.trim_matches(LINE_MARKS).trim_matches(',');
        at = le;
        if line.is_empty() {
            blanks += 1;
            if blanks > 1 {
                break;
            }
            continue;
        }
        if !address_line_ok(lex, line) {
            break;
        }
        let lead = raw.len()
            - raw
                .trim_start_matches(|c| LINE_MARKS.contains(&c) || c == ',')
                .len();
        let line = line.trim_end_matches('.');
        push(ls + lead, ls + lead + line.len());
        lines += 1;
    }
}

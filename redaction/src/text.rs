//! Shared text helpers. The rule layers work in byte offsets, which is what
//! the regex and Aho-Corasick engines report, and convert to the public char
//! offsets once, at the end.

use regex::{Regex, RegexBuilder};

use crate::{Kind, Span};

/// A candidate in byte offsets (always on char boundaries).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
    pub score: f32,
}

impl Hit {
    pub fn new(start: usize, end: usize, kind: Kind, score: f32) -> Hit {
        Hit {
            start,
            end,
            kind,
            score,
        }
    }
}

pub(crate) fn prev_char(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

pub(crate) fn next_char(text: &str, i: usize) -> Option<char> {
    text[i..].chars().next()
}

pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `[s, e)` is not glued to a letter or digit on either side.
pub(crate) fn word_bounded(text: &str, s: usize, e: usize) -> bool {
    !prev_char(text, s).is_some_and(is_word) && !next_char(text, e).is_some_and(is_word)
}

/// Like [`word_bounded`], and also not part of a longer dotted, dashed,
/// slashed or colon-separated number: "10.20.30" inside "10.20.30.40" is no
/// date, and "123-4567" inside "555-123-4567" is no local number.
pub(crate) fn number_bounded(text: &str, s: usize, e: usize) -> bool {
    if !word_bounded(text, s, e) {
        return false;
    }
    let joiner = |c: char| matches!(c, '.' | '-' | '/' | ':' | '+');
    if let Some(c) = prev_char(text, s)
        && joiner(c)
        && prev_char(text, s - c.len_utf8()).is_some_and(|d| d.is_ascii_digit())
    {
        return false;
    }
    if let Some(c) = next_char(text, e)
        && joiner(c)
        && next_char(text, e + c.len_utf8()).is_some_and(|d| d.is_ascii_digit())
    {
        return false;
    }
    true
}

/// An ASCII-only regex: `\d` and `\b` mean ASCII digits and boundaries, and
/// the faster engines need not give up on Unicode word boundaries.
pub(crate) fn ascii(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}"))
}

pub(crate) fn unicode(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}"))
}

/// Calls `accept` on each match of `re`, leftmost first. A rejected match
/// does not hide a later one that starts inside it: the search resumes one
/// char further on, not after the match.
pub(crate) fn each_match(re: &Regex, text: &str, mut accept: impl FnMut(usize, usize) -> bool) {
    let mut at = 0;
    while at <= text.len() {
        let Some(m) = re.find_at(text, at) else {
            break;
        };
        if accept(m.start(), m.end()) && m.end() > m.start() {
            at = m.end();
        } else {
            at = m.start() + next_char(text, m.start()).map_or(1, char::len_utf8);
        }
    }
}

/// [`each_match`] with capture groups.
pub(crate) fn each_capture(
    re: &Regex,
    text: &str,
    mut accept: impl FnMut(&regex::Captures<'_>) -> bool,
) {
    let mut at = 0;
    while at <= text.len() {
        let Some(c) = re.captures_at(text, at) else {
            break;
        };
        let Some(m) = c.get(0) else { break };
        if accept(&c) && m.end() > m.start() {
            at = m.end();
        } else {
            at = m.start() + next_char(text, m.start()).map_or(1, char::len_utf8);
        }
    }
}

pub(crate) fn count_digits(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// The ASCII digits of `s`, separators dropped, in a stack buffer: the
/// checksums run on candidates that are mostly rejected, so they should not
/// allocate.
pub(crate) struct Digits {
    buf: [u8; 40],
    len: usize,
}

impl Digits {
    /// `None` when `s` has more than 40 digits.
    pub fn of(s: &str) -> Option<Digits> {
        let mut d = Digits {
            buf: [0; 40],
            len: 0,
        };
        for c in s.bytes().filter(u8::is_ascii_digit) {
            *d.buf.get_mut(d.len)? = c;
            d.len += 1;
        }
        Some(d)
    }

    /// The alphanumerics of `s`, uppercased.
    pub fn alnum_of(s: &str) -> Option<Digits> {
        let mut d = Digits {
            buf: [0; 40],
            len: 0,
        };
        for c in s.bytes().filter(u8::is_ascii_alphanumeric) {
            *d.buf.get_mut(d.len)? = c.to_ascii_uppercase();
            d.len += 1;
        }
        Some(d)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

/// Byte-offset hits to char-offset spans. Pure ASCII, the common case, needs
/// no conversion.
pub(crate) fn to_char_spans(text: &str, hits: &[Hit]) -> Vec<Span> {
    let span = |h: &Hit, start, end| Span {
        start,
        end,
        kind: h.kind,
        score: h.score,
    };
    if text.is_ascii() {
        return hits.iter().map(|h| span(h, h.start, h.end)).collect();
    }
    let chars = |b: usize| text[..b].chars().count();
    if hits.windows(2).all(|w| w[0].end <= w[1].start) {
        // Sorted and disjoint: one walk over the text converts every offset.
        let mut out = Vec::with_capacity(hits.len());
        let (mut byte, mut char) = (0, 0);
        let mut advance = |to: usize| {
            char += text[byte..to].chars().count();
            byte = to;
            char
        };
        for h in hits {
            let start = advance(h.start);
            let end = advance(h.end);
            out.push(span(h, start, end));
        }
        out
    } else {
        hits.iter()
            .map(|h| span(h, chars(h.start), chars(h.end)))
            .collect()
    }
}

/// Char-offset spans from a plugged-in detector to byte-offset hits, dropping
/// empty or out-of-range ones.
pub(crate) fn char_spans_to_hits(text: &str, spans: &[Span], out: &mut Vec<Hit>) {
    if spans.is_empty() {
        return;
    }
    let byte_of = |c: usize| -> Option<usize> {
        if text.is_ascii() {
            (c <= text.len()).then_some(c)
        } else {
            text.char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(text.len()))
                .nth(c)
        }
    };
    for s in spans {
        if s.start >= s.end || !s.score.is_finite() {
            continue;
        }
        if let (Some(start), Some(end)) = (byte_of(s.start), byte_of(s.end)) {
            out.push(Hit::new(start, end, s.kind, s.score));
        }
    }
}

/// Hits in char offsets from a layer, for the layers' [`crate::Detector`]
/// impls.
pub(crate) fn push_spans(text: &str, hits: &[Hit], out: &mut Vec<Span>) {
    out.extend(to_char_spans(text, hits));
}

/// A word: letters, with inner apostrophes and hyphens ("O'Brien",
/// "García-López"). Digits make a token too, flagged, so that "A1C" is no
/// name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub start: usize,
    pub end: usize,
    /// Starts with an uppercase letter.
    pub cap: bool,
    /// Every letter uppercase (and at least two of them).
    pub all_caps: bool,
    pub has_digit: bool,
    /// Nothing but spaces, quotes or brackets since the start of the text or
    /// the last sentence-ending punctuation.
    pub sentence_start: bool,
}

/// The word starting at byte `i` (which must be a letter or digit): letters
/// and digits, with inner apostrophes and hyphens, and without a trailing
/// possessive ("Maria's" is Maria).
pub(crate) fn word_at(text: &str, i: usize) -> (usize, bool) {
    let mut end = i;
    let mut has_digit = false;
    let mut chars = text[i..].char_indices().peekable();
    while let Some((j, d)) = chars.next() {
        if d.is_alphanumeric() {
            has_digit |= d.is_ascii_digit();
            end = i + j + d.len_utf8();
        } else if matches!(d, '\'' | '’' | '-')
            && chars.peek().is_some_and(|&(_, n)| n.is_alphabetic())
        {
            continue;
        } else {
            break;
        }
    }
    let word = &text[i..end];
    if word.len() > 2 {
        for suffix in ["'s", "’s"] {
            if word.ends_with(suffix) {
                end -= suffix.len();
                break;
            }
        }
    }
    (end, has_digit)
}

/// The word tokens of `text`, in order.
pub(crate) fn tokens(text: &str, out: &mut Vec<Token>) {
    let mut sentence_start = true;
    let mut i = 0;
    while let Some(c) = next_char(text, i) {
        if c.is_alphanumeric() {
            let (end, has_digit) = word_at(text, i);
            let word = &text[i..end];
            let letters = word.chars().filter(|c| c.is_alphabetic()).count();
            out.push(Token {
                start: i,
                end,
                cap: c.is_uppercase(),
                all_caps: letters >= 2 && word.chars().all(|c| !c.is_lowercase()),
                has_digit,
                sentence_start,
            });
            sentence_start = false;
            i = end;
            continue;
        }
        if matches!(c, '!' | '?' | '\n' | '\r' | '¿' | '¡') {
            sentence_start = true;
        } else if c == '.' {
            // "Dr. Smith" and "J. Smith" go on with the same sentence.
            let abbreviation = out.last().is_some_and(|t: &Token| {
                t.end == i && {
                    let w = &text[t.start..t.end];
                    w.chars().count() == 1
                        || ABBREVIATIONS.iter().any(|a| w.eq_ignore_ascii_case(a))
                }
            });
            sentence_start |= !abbreviation;
        }
        i += c.len_utf8();
    }
}

const ABBREVIATIONS: [&str; 12] = [
    "dr", "mr", "mrs", "ms", "st", "jr", "sr", "prof", "dra", "sra", "mt", "ft",
];

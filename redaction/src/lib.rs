//! Finds protected health information (PHI) in chat messages and replaces it
//! with typed placeholders, so that what a patient types can be stored, logged
//! and shown to a model without the identifiers in it. Every message passes
//! through here before it goes anywhere else, so the crate is pure (no I/O,
//! threads or logging) and cheap enough to run on every message.
//!
//! No single technique finds PHI in free text, so detection is layered, and
//! each layer covers what the others miss:
//!
//! 1. **Validated patterns** ([`PatternLayer`]): shapes that carry their own
//!    proof, such as card numbers (Luhn), IBANs (mod 97), VINs and DEA numbers
//!    (check digits), Medicare MBIs, formatted SSNs, phone numbers, dates,
//!    e-mail and web addresses, IP addresses and street addresses.
//! 2. **Context** ([`ContextLayer`]): a trigger phrase ("MRN", "member ID",
//!    "routing", "my name is", "DOB", "I am") turns an otherwise ambiguous
//!    value after it into an identifier, and raises the score of values that
//!    already validate.
//! 3. **Dictionaries** ([`DictionaryLayer`]): common US first names and
//!    surnames catch names that no trigger announces ("can Maria Lopez call me
//!    back"), with everyday words ("Will", "May", "Grant") held back unless
//!    another name stands next to them.
//! 4. **Models**, optionally: any [`Detector`] can be plugged in with
//!    [`Redactor::with_detector`], for instance a token classifier that lives
//!    in another crate.
//!
//! Every layer proposes scored candidates; overlapping candidates are merged
//! into one sorted, non-overlapping set, preferring the higher score and then
//! the longer span. The layers lean towards redacting: a false positive costs
//! a word of context, a false negative puts PHI on disk.

pub mod checksum;
mod context;
mod names;
mod patterns;
mod text;

#[cfg(test)]
mod tests;

pub use context::ContextLayer;
pub use names::DictionaryLayer;
pub use patterns::PatternLayer;

use text::Hit;

/// Kind of identifier found. Serialises as snake_case ("name", "ssn", ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Name,
    Address,
    Location,
    Zip,
    Date,
    Age,
    Phone,
    Email,
    Ssn,
    Mrn,
    MemberId,
    Account,
    Card,
    Iban,
    Routing,
    License,
    Vehicle,
    Device,
    Url,
    Ip,
    Id,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 21] = [
        Kind::Name,
        Kind::Address,
        Kind::Location,
        Kind::Zip,
        Kind::Date,
        Kind::Age,
        Kind::Phone,
        Kind::Email,
        Kind::Ssn,
        Kind::Mrn,
        Kind::MemberId,
        Kind::Account,
        Kind::Card,
        Kind::Iban,
        Kind::Routing,
        Kind::License,
        Kind::Vehicle,
        Kind::Device,
        Kind::Url,
        Kind::Ip,
        Kind::Id,
    ];

    /// The text that replaces an identifier of this kind.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Name => "[NAME]",
            Kind::Address => "[ADDRESS]",
            Kind::Location => "[LOCATION]",
            Kind::Zip => "[ZIP]",
            Kind::Date => "[DATE]",
            Kind::Age => "[AGE]",
            Kind::Phone => "[PHONE]",
            Kind::Email => "[EMAIL]",
            Kind::Ssn => "[SSN]",
            Kind::Mrn => "[MRN]",
            Kind::MemberId => "[MEMBER_ID]",
            Kind::Account => "[ACCOUNT]",
            Kind::Card => "[CARD]",
            Kind::Iban => "[IBAN]",
            Kind::Routing => "[ROUTING]",
            Kind::License => "[LICENSE]",
            Kind::Vehicle => "[VEHICLE]",
            Kind::Device => "[DEVICE]",
            Kind::Url => "[URL]",
            Kind::Ip => "[IP]",
            Kind::Id => "[ID]",
        }
    }

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Address => "address",
            Kind::Location => "location",
            Kind::Zip => "zip",
            Kind::Date => "date",
            Kind::Age => "age",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Ssn => "ssn",
            Kind::Mrn => "mrn",
            Kind::MemberId => "member_id",
            Kind::Account => "account",
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Routing => "routing",
            Kind::License => "license",
            Kind::Vehicle => "vehicle",
            Kind::Device => "device",
            Kind::Url => "url",
            Kind::Ip => "ip",
            Kind::Id => "id",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A found identifier. Offsets count Unicode scalar values (chars), half-open
/// `[start, end)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
    /// Confidence in `0.0..=1.0`; only used to settle overlaps.
    #[serde(skip)]
    pub score: f32,
}

/// The outcome of [`Redactor::redact`].
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    /// The text with every span replaced by its kind's placeholder.
    pub text: String,
    /// What was replaced; offsets index into the ORIGINAL text, in chars.
    pub spans: Vec<Span>,
}

/// One source of candidate spans.
///
/// Implementations append candidates to `out` with char offsets into `text`;
/// they may overlap each other and need not be sorted, since the
/// [`Redactor`] merges everything. Out-of-range or empty spans are dropped.
pub trait Detector: Send + Sync {
    fn detect(&self, text: &str, out: &mut Vec<Span>);
}

/// Finds and removes PHI. Build one and share it (it is `Send + Sync`): the
/// rule layers are compiled once per process.
pub struct Redactor {
    patterns: &'static patterns::Patterns,
    context: &'static context::Context,
    lexicon: &'static names::Lexicon,
    extra: Vec<Box<dyn Detector>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("extra_detectors", &self.extra.len())
            .finish_non_exhaustive()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// The rule layers (patterns, context, dictionaries). Compiles them on
    /// the first call in the process; later calls are cheap.
    pub fn new() -> Redactor {
        Redactor {
            patterns: patterns::get(),
            context: context::get(),
            lexicon: names::lexicon(),
            extra: Vec::new(),
        }
    }

    /// Adds a detector (e.g. a model-based layer) whose candidates are merged
    /// with the rules' on every call.
    pub fn with_detector(mut self, detector: Box<dyn Detector>) -> Redactor {
        self.extra.push(detector);
        self
    }

    /// The identifiers in `text`: sorted by start, non-overlapping, on char
    /// boundaries, in char offsets.
    pub fn find(&self, text: &str) -> Vec<Span> {
        let hits = self.find_bytes(text);
        text::to_char_spans(text, &hits)
    }

    /// `text` with each identifier replaced by its kind's placeholder.
    pub fn redact(&self, text: &str) -> Redacted {
        let hits = self.find_bytes(text);
        let mut out = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for h in &hits {
            out.push_str(&text[at..h.start]);
            out.push_str(h.kind.placeholder());
            at = h.end;
        }
        out.push_str(&text[at..]);
        Redacted {
            text: out,
            spans: text::to_char_spans(text, &hits),
        }
    }

    /// Display mode: like [`redact`](Self::redact), but card and account
    /// numbers keep their last four digits ("XXXX-XXXX-XXXX-1234",
    /// "XXXX1234") so that staff can tell them apart.
    pub fn mask(&self, text: &str) -> String {
        let hits = self.find_bytes(text);
        let mut out = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for h in &hits {
            out.push_str(&text[at..h.start]);
            let found = &text[h.start..h.end];
            match (h.kind, last_four_digits(found)) {
                (Kind::Card, Some(last)) => {
                    out.push_str("XXXX-XXXX-XXXX-");
                    out.push_str(last);
                }
                (Kind::Account, Some(last)) => {
                    out.push_str("XXXX");
                    out.push_str(last);
                }
                _ => out.push_str(h.kind.placeholder()),
            }
            at = h.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// All layers, merged, in byte offsets: the form redact and mask splice
    /// with, so that only `find` pays for the char conversion.
    fn find_bytes(&self, text: &str) -> Vec<Hit> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        self.patterns.scan(text, self.lexicon, &mut hits);
        self.context.scan(text, self.lexicon, &mut hits);
        self.lexicon.scan(text, &mut hits);
        if !self.extra.is_empty() {
            let mut spans = Vec::new();
            for d in &self.extra {
                d.detect(text, &mut spans);
            }
            text::char_spans_to_hits(text, &spans, &mut hits);
        }
        merge(hits)
    }
}

/// The last four digits of `s`, when they stand together at its end (after
/// any trailing non-digits), as a slice of it.
fn last_four_digits(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    while end > 0 && !bytes[end - 1].is_ascii_digit() {
        end -= 1;
    }
    let start = end.checked_sub(4)?;
    bytes[start..end]
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| &s[start..end])
}

/// One non-overlapping set from overlapping candidates.
///
/// Overlapping candidates of the same kind are first joined, because two
/// layers that found parts of the same phone number should hide all of it;
/// then, across kinds, the higher score wins and then the longer span.
fn merge(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.retain(|h| h.start < h.end);
    if hits.len() <= 1 {
        return hits;
    }
    hits.sort_by_key(|h| (h.kind as u8, h.start));
    let mut joined: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        match joined.last_mut() {
            Some(last) if last.kind == h.kind && h.start < last.end => {
                last.end = last.end.max(h.end);
                last.score = last.score.max(h.score);
            }
            _ => joined.push(h),
        }
    }
    joined.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Hit> = Vec::with_capacity(joined.len());
    for h in joined {
        if kept.iter().all(|k| h.end <= k.start || k.end <= h.start) {
            kept.push(h);
        }
    }
    kept.sort_by_key(|h| h.start);
    kept
}

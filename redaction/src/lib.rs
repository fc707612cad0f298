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
//! 4. **A model**, optionally ([`model::NerModel`], cargo feature `model`):
//!    a BERT token classifier, run with Candle, for the names, streets and
//!    towns no rule or list knows. It can run inside the redactor
//!    ([`Redactor::with_detector`]), or elsewhere, batched, with its spans
//!    merged in through [`Redactor::find_with`] and
//!    [`Redactor::redact_with`]. Its candidates pass a clinical veto first
//!    (`clinical.rs`): readings, doses, tooth numbers and drug names that a
//!    model trained on generic PII mistakes for addresses and surnames.
//!
//! Every layer proposes scored candidates; overlapping candidates are merged
//! into one sorted, non-overlapping set covering all of them (a character
//! any layer flagged stays hidden), named by the strongest candidate, and
//! neighbouring parts of one address or name are joined. The layers lean towards redacting: a false positive costs
//! a word of context, a false negative puts PHI on disk.

pub mod checksum;
mod clinical;
mod context;
#[cfg(feature = "model")]
pub mod model;
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
        self.find_with(text, &[])
    }

    /// Like [`find`](Self::find), with `extra` candidates (char offsets into
    /// `text`, say from a model run elsewhere) merged in.
    pub fn find_with(&self, text: &str, extra: &[Span]) -> Vec<Span> {
        let hits = self.find_bytes(text, extra);
        text::to_char_spans(text, &hits)
    }

    /// `text` with each identifier replaced by its kind's placeholder.
    pub fn redact(&self, text: &str) -> Redacted {
        self.redact_with(text, &[])
    }

    /// Like [`redact`](Self::redact), with `extra` candidates merged in.
    pub fn redact_with(&self, text: &str, extra: &[Span]) -> Redacted {
        let hits = self.find_bytes(text, extra);
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
        self.mask_with(text, &[])
    }

    /// Like [`mask`](Self::mask), with `extra` candidates merged in.
    pub fn mask_with(&self, text: &str, extra: &[Span]) -> String {
        let hits = self.find_bytes(text, extra);
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
    fn find_bytes(&self, text: &str, extra: &[Span]) -> Vec<Hit> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        self.patterns.scan(text, self.lexicon, &mut hits);
        self.context.scan(text, self.lexicon, &mut hits);
        self.lexicon.scan(text, &mut hits);
        // Model candidates (passed in, or from plugged-in detectors) are
        // checked against clinical text the rules already know to leave.
        let mut model = Vec::new();
        text::char_spans_to_hits(text, extra, &mut model);
        if !self.extra.is_empty() {
            let mut spans = Vec::new();
            for d in &self.extra {
                d.detect(text, &mut spans);
            }
            text::char_spans_to_hits(text, &spans, &mut model);
        }
        clinical::get().veto(text, &mut model, &hits);
        hits.append(&mut model);
        let mut hits = merge(hits);
        take_word_before(text, &mut hits, Kind::Address, &UNIT_WORDS);
        join_neighbours(text, hits)
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
/// Overlapping candidates are joined into one span covering them all: a
/// character that any layer flagged stays hidden, so two layers that found
/// parts of the same address hide all of it. The joined span takes the kind
/// of its highest-scoring candidate (then the longest).
fn merge(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.retain(|h| h.start < h.end);
    if hits.len() <= 1 {
        return hits;
    }
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    // The candidate that names the current joined span's kind.
    let mut lead = hits[0];
    for h in hits {
        match out.last_mut() {
            Some(last) if h.start < last.end => {
                last.end = last.end.max(h.end);
                let longer = h.end - h.start > lead.end - lead.start;
                if h.score > lead.score || (h.score == lead.score && longer) {
                    lead = h;
                    last.kind = h.kind;
                }
                last.score = last.score.max(h.score);
            }
            _ => {
                out.push(h);
                lead = h;
            }
        }
    }
    out
}

/// Kinds that make up one postal address when written together.
fn is_place(kind: Kind) -> bool {
    matches!(kind, Kind::Address | Kind::Location | Kind::Zip)
}

/// Joins neighbouring spans that are parts of one thing, so that the
/// punctuation between them does not stay behind as a trace of the layout
/// ("[ADDRESS], [LOCATION] IL [ZIP]" becomes one "[ADDRESS]"):
///
/// - place spans (street, town, region, ZIP) separated only by spaces,
///   line breaks, commas, full stops, hyphens or a two-letter region code;
/// - name spans separated only by spaces, hyphens or full stops.
fn join_neighbours(text: &str, hits: Vec<Hit>) -> Vec<Hit> {
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        if let Some(last) = out.last_mut() {
            let gap = &text[last.end..h.start];
            // "the corner of Main St and 5th Ave" is one place.
            let corner = last.kind == Kind::Address
                && h.kind == Kind::Address
                && matches!(gap.trim_start_matches(['.', ',']).trim(), "and" | "&")
                && gap.len() <= 6;
            let places = is_place(last.kind) && is_place(h.kind) && (place_gap(gap) || corner);
            let names = last.kind == Kind::Name
                && h.kind == Kind::Name
                && gap
                    .chars()
                    .all(|c| matches!(c, ' ' | '-' | '.' | '\u{feff}'));
            if places || names {
                if places && last.kind != h.kind {
                    last.kind = Kind::Address;
                }
                last.end = h.end;
                last.score = last.score.max(h.score);
                continue;
            }
        }
        out.push(h);
    }
    // An intersection names a place as well as a house number does.
    for h in out.iter_mut().filter(|h| h.kind == Kind::Address) {
        let before = &text[..h.start];
        for phrase in ["the corner of ", "corner of "] {
            if before.len() >= phrase.len()
                && before.is_char_boundary(before.len() - phrase.len())
                && before[before.len() - phrase.len()..].eq_ignore_ascii_case(phrase)
            {
                h.start -= phrase.len();
                break;
            }
        }
    }
    out
}

/// Whether `gap` holds only what separates the parts of one address.
fn place_gap(gap: &str) -> bool {
    gap.len() <= 12
        && gap
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-'))
            .all(|w| w.is_empty() || (w.len() == 2 && w.bytes().all(|b| b.is_ascii_uppercase())))
}

/// Words that open an address line and belong to the number after them
/// ("Apt. 4B", "Suite 210").
pub(crate) const UNIT_WORDS: [&str; 11] = [
    "apt",
    "apt.",
    "apartment",
    "suite",
    "ste",
    "ste.",
    "unit",
    "room",
    "rm",
    "rm.",
    "#",
];

/// Widens spans of `kind` over one of `words` just before them (separated
/// by spaces only, or glued for "#"), when no other span holds that word.
fn take_word_before(text: &str, hits: &mut [Hit], kind: Kind, words: &[&str]) {
    for i in 0..hits.len() {
        if hits[i].kind != kind {
            continue;
        }
        let before = &text[..hits[i].start];
        let trimmed = before.trim_end_matches(' ');
        if trimmed.len() == before.len() && !trimmed.ends_with('#') {
            continue;
        }
        let word_start = trimmed
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_whitespace() || matches!(c, '(' | '"' | ','))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let word = &trimmed[word_start..];
        let free = i == 0 || hits[i - 1].end <= word_start;
        if free
            && !word.is_empty()
            && word.len() <= 10
            && words.contains(&word.to_lowercase().as_str())
        {
            hits[i].start = word_start;
        }
    }
}

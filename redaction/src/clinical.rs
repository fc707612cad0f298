//! Clinical text that looks like an identifier but is not one: readings
//! ("BP 142/91", "pulse 88"), doses ("500 mg", "2 tablets 3 times a day"),
//! pain scores ("7/10"), tooth numbers ("tooth #14"), money, insurers and
//! drug names, and chat shorthand ("ty", "lol").
//!
//! The rule layers are written not to fire on these. The model layer is not:
//! a token classifier trained on generic PII reads "142/91" as part of an
//! address and "amlodipine" as a surname. So candidates from the model (and
//! from any plugged-in [`crate::Detector`]) that touch one of these are
//! dropped before the merge. Dropping, not trimming: a model span over "bp
//! 131/76" is wrong as a whole, and its remains ("bp") are no identifier
//! either.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use crate::Kind;
use crate::text::{Hit, word_bounded};

/// Shapes of numbers that clinical text is full of.
const NUMBERS: &str = r"(?xi)
    # blood pressure: 142/91, 138 over 85, after bp or before mmHg
    \b(?:bp|b/p|blood\s+pressure|pressure)\s*(?:was|is|of|at|reading|=|:)?\s*
        \d{2,3}\s*(?:/|\s+over\s+)\s*\d{2,3}(?:\s*mm\s*hg)?
  | \b\d{2,3}\s*(?:/|\s+over\s+)\s*\d{2,3}\s*mm\s*hg\b
  # other readings
  | \b(?:pulse|hr|heart\s+rate|bpm|temp|temperature|fever|weight|weigh|a1c|hba1c|sugar|glucose
       |o2|spo2|sats?|oxygen|cholesterol|ldl|hdl|inr|psa|tsh|bmi|pain)
       \s*(?:was|is|of|at|level|reading|=|:|around|about)?\s*\d{1,3}(?:\.\d+)?\s*(?:%|°?\s*[fc]\b)?
  | \b\d{2,3}(?:\.\d)?\s*(?:°\s*[fc]?|degrees)
  # pain and other scales
  | \b\d{1,2}\s*(?:/|\s+out\s+of\s+)\s*10\b
  # doses and quantities
  | \b\d+(?:\.\d+)?\s*(?:mg|mcg|µg|ug|g|gm|ml|cc|iu|units?|tabs?|tablets?|pills?|capsules?|caps?|puffs?
       |drops?|doses?|sprays?|patch(?:es)?|lbs?|pounds|kg|times|x)\b
  # tooth numbers: tooth #14, teeth 3 and 14, the crown on #30
  | \b(?:tooth|teeth|molar|premolar|filling|crown|root\s+canal|extraction|implant)
       (?:\s+(?:on|number|no\.?|nr|and|&|,|the|my))*\s*\#?\s*\d{1,2}
       (?:\s*(?:,|and|&)\s*\#?\d{1,2})*\b
  # money
  | \$\s*\d[\d,]*(?:\.\d{2})?
";

/// Words that are not names or places however a model reads them:
/// insurers, common drugs, and chat shorthand. Lowercase, whole words.
const WORDS: &[&str] = &[
    // Insurers and programmes (organisations, not people).
    "aetna",
    "anthem",
    "cigna",
    "humana",
    "medicare",
    "medicaid",
    "medi-cal",
    "tricare",
    "molina",
    "ambetter",
    "bcbs",
    "blue cross",
    "blue shield",
    "blue cross blue shield",
    "delta dental",
    "metlife",
    "unitedhealthcare",
    "united healthcare",
    "kaiser permanente",
    "oscar health",
    // Roles, not names ("Hey Doc").
    "doc",
    "doctor",
    "nurse",
    "dentist",
    "hygienist",
    "pharmacist",
    "receptionist",
    // Common drugs, generic and brand.
    "acetaminophen",
    "albuterol",
    "amlodipine",
    "amoxicillin",
    "atorvastatin",
    "azithromycin",
    "benzonatate",
    "cephalexin",
    "cetirizine",
    "ciprofloxacin",
    "citalopram",
    "clopidogrel",
    "doxycycline",
    "eliquis",
    "escitalopram",
    "famotidine",
    "fluoxetine",
    "gabapentin",
    "hydrochlorothiazide",
    "hydrocodone",
    "ibuprofen",
    "insulin",
    "levothyroxine",
    "lisinopril",
    "loratadine",
    "losartan",
    "meloxicam",
    "metformin",
    "metoprolol",
    "montelukast",
    "naproxen",
    "omeprazole",
    "ozempic",
    "pantoprazole",
    "prednisone",
    "sertraline",
    "simvastatin",
    "synthroid",
    "tramadol",
    "trazodone",
    "tylenol",
    "advil",
    "motrin",
    "warfarin",
    "xarelto",
    "zoloft",
];

/// Chat shorthand, matched in lowercase only: "ty" is thanks, "Ty" a name.
const SHORTHAND: &[&str] = &[
    "ty", "thx", "thnx", "tx", "lol", "pls", "plz", "omg", "btw", "idk", "asap", "fyi", "imo",
    "np", "ok", "okay",
];

pub(crate) struct Clinical {
    numbers: Regex,
    words: AhoCorasick,
    shorthand: AhoCorasick,
}

static CLINICAL: LazyLock<Clinical> = LazyLock::new(|| Clinical {
    numbers: Regex::new(NUMBERS).unwrap_or_else(|e| panic!("clinical patterns: {e}")),
    words: AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(WORDS)
        .unwrap_or_else(|e| panic!("clinical words: {e}")),
    shorthand: AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(SHORTHAND)
        .unwrap_or_else(|e| panic!("chat shorthand: {e}")),
});

pub(crate) fn get() -> &'static Clinical {
    &CLINICAL
}

impl Clinical {
    /// Drops the model candidates in `hits` that overlap clinical text, or
    /// that are short numbers standing alone (no other place candidate, of
    /// the model's or in `rules`, next to them).
    pub(crate) fn veto(&self, text: &str, hits: &mut Vec<Hit>, rules: &[Hit]) {
        if hits.is_empty() {
            return;
        }
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        if text.bytes().any(|b| b.is_ascii_digit()) {
            ranges.extend(self.numbers.find_iter(text).map(|m| (m.start(), m.end())));
        }
        for automaton in [&self.words, &self.shorthand] {
            ranges.extend(
                automaton
                    .find_iter(text)
                    .filter(|m| word_bounded(text, m.start(), m.end()))
                    .map(|m| (m.start(), m.end())),
            );
        }
        if !ranges.is_empty() {
            hits.retain(|h| !ranges.iter().any(|&(s, e)| h.start < e && s < h.end));
        }
        // A short number or code standing alone ("at 3", "in 2 places",
        // "D3") is no address, however the model reads it; one next to
        // another part of an address is a house or unit number.
        let places: Vec<(usize, usize)> = hits
            .iter()
            .chain(rules)
            .filter(|h| is_place(h.kind))
            .map(|h| (h.start, h.end))
            .collect();
        hits.retain(|h| {
            let lone = is_place(h.kind)
                && is_short_code(&text[h.start..h.end])
                && !places.iter().any(|&(s, e)| {
                    (s, e) != (h.start, h.end) && near(text, (s, e), (h.start, h.end))
                })
                && !reads_as_address(text, h.start, h.end);
            !lone
        });
    }
}

fn is_place(kind: Kind) -> bool {
    matches!(kind, Kind::Address | Kind::Location | Kind::Zip)
}

/// At most four characters of digits, or a letter and a digit or two.
fn is_short_code(s: &str) -> bool {
    let s = s.trim_matches(|c: char| !c.is_alphanumeric());
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    !s.is_empty() && s.len() <= 4 && digits >= 1 && letters <= 1 && s.is_ascii()
}

/// Words that, besides the unit words that open an address line
/// ([`crate::UNIT_WORDS`]), make the number after them part of an address.
const NUMBER_WORDS: &[&str] = &[
    "floor", "fl", "fl.", "box", "no", "no.", "nr", "nr.", "number", "bldg", "building",
];

/// Whether the short code at `[s, e)` reads as part of an address by its
/// neighbours: a unit word before it ("Apt. 580"), or, for a house number,
/// a capitalised word or another number right after it ("85 Trg
/// revolucije", "08 251 Charilaou").
fn reads_as_address(text: &str, s: usize, e: usize) -> bool {
    let before = text[..s].trim_end();
    let prev = before
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_lowercase();
    if before.len() < s
        && (crate::UNIT_WORDS.contains(&prev.as_str()) || NUMBER_WORDS.contains(&prev.as_str()))
    {
        return true;
    }
    let code = &text[s..e];
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let after = &text[e..];
    let rest = after.trim_start_matches(' ');
    rest.len() < after.len()
        && after.len() - rest.len() <= 2
        && rest
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// Whether two spans are separated only by a few spaces or punctuation.
fn near(text: &str, a: (usize, usize), b: (usize, usize)) -> bool {
    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    if second.0 < first.1 {
        return true;
    }
    let gap = &text[first.1..second.0];
    gap.len() <= 3
        && gap
            .chars()
            .all(|c| c.is_whitespace() || matches!(c, ',' | '.' | '#' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte range of `needle` in `text` as a model candidate.
    fn hit(text: &str, needle: &str) -> Hit {
        let s = text.find(needle).unwrap();
        Hit::new(s, s + needle.len(), Kind::Address, 0.5)
    }

    #[test]
    fn drops_model_spans_on_clinical_text_and_keeps_the_rest() {
        let cases: &[(&str, &str, bool)] = &[
            // (text, what the model flagged, kept?)
            ("BP 142/91, take 2 tablets", "/91", false),
            ("my bp was 138 over 85 today", "138 over 85", false),
            ("154/90 mmHg this morning", "154/90", false),
            ("pulse 88 and temp 101.5 F", "88", false),
            ("pain is 7/10 when I bite", "7/10", false),
            ("tooth #22 is killing me", "#22", false),
            ("the crown on #30 fell off", "30", false),
            ("teeth 3 and 14 hurt", "14", false),
            ("take 500 mg twice daily", "500", false),
            ("got a bill for $212.50", "212.50", false),
            ("is amlodipine ok with food", "amlodipine", false),
            ("do you take Cigna?", "Cigna", false),
            ("lol ty", "ty", false),
            // Real identifiers near clinical words stay.
            ("I live at 14 Oak Street, pain 7/10", "14 Oak Street", true),
            ("call Tyler about my 500 mg dose", "Tyler", true),
            ("unit 3, 45 Main St", "45 Main St", true),
            ("my son Ty is sick", "Ty", true),
            ("Hey Doc, quick question", "Doc", false),
            // Lone short numbers are no address; alone in the text they go.
            ("group therapy at 3", "3", false),
            ("vitamin D3 1000 IU", "D3", false),
            ("it is broken in 2 places", "2", false),
            // A unit or house number by its neighbours stays.
            ("Kromwater 38\n Apt. 705\n Zoete", "705", true),
            ("my address: 85 Trg revolucije 12", "85", true),
        ];
        let c = get();
        for &(text, flagged, kept) in cases {
            let mut hits = vec![hit(text, flagged)];
            c.veto(text, &mut hits, &[]);
            assert_eq!(!hits.is_empty(), kept, "{text:?} / {flagged:?}");
        }
        // A house number next to a street the model also found stays.
        let text = "I live at 42 Elm, Springfield";
        let mut hits = vec![hit(text, "42"), hit(text, "Elm")];
        c.veto(text, &mut hits, &[]);
        assert_eq!(hits.len(), 2);
        // So does one before a street only the rules found.
        let text = "his address: 85 Trg revolucije 12";
        let mut hits = vec![hit(text, "85")];
        c.veto(text, &mut hits, &[hit(text, "Trg revolucije 12")]);
        assert_eq!(hits.len(), 1);
    }
}

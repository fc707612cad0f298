//! Places: cities and US counties (the gazetteer, and "City, ST"),
//! countries, and ZIP codes (after a state, or bare where their neighbours
//! say so).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use crate::Kind;
use crate::names::{self, Lexicon};
use crate::text::{Hit, ascii, number_bounded, word_bounded};

const STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|PR|GU|VI";

/// The state codes that are not also everyday words ("in", "or", "me",
/// "hi", "ok" are left out): those count in lowercase too ("austin tx
/// 78704").
const LOWER_STATES: &str = "ak|az|ar|ca|ct|fl|ga|ia|il|ks|ky|md|mn|nc|nd|nh|nj|nm|nv|ny|ri|sc|sd|tn|tx|ut|va|vt|wa|wi|wv|wy|dc";

const STATE_NAMES: &str = "alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma|oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas|utah|vermont|virginia|washington|west virginia|wisconsin|wyoming|puerto rico";

const SCORE_ZIP: f32 = 0.8;
/// A bare ZIP-shaped number whose neighbours say it is one.
const SCORE_ZIP_CONTEXT: f32 = 0.7;
const SCORE_CITY: f32 = 0.6;
const SCORE_COUNTRY: f32 = 0.55;

/// The city and county list, lowercase, one a line (see data/README.md).
const CITIES: &str = include_str!("../../data/cities.txt");

/// Country names that are not also everyday words or given names ("Chad",
/// "Jordan", "Turkey", "China", "Georgia" and "Guinea" alone are left out).
/// Safe Harbor does not require them, but a country in a patient's message
/// is usually where they live or travelled, and costs little context.
const COUNTRIES: &[&str] = &[
    "afghanistan",
    "albania",
    "algeria",
    "andorra",
    "angola",
    "antigua and barbuda",
    "argentina",
    "armenia",
    "australia",
    "austria",
    "azerbaijan",
    "bahamas",
    "bahrain",
    "bangladesh",
    "barbados",
    "belarus",
    "belgium",
    "belize",
    "benin",
    "bhutan",
    "bolivia",
    "bosnia and herzegovina",
    "botswana",
    "brazil",
    "brunei",
    "bulgaria",
    "burkina faso",
    "burundi",
    "cambodia",
    "cameroon",
    "canada",
    "cape verde",
    "central african republic",
    "chile",
    "colombia",
    "comoros",
    "costa rica",
    "croatia",
    "cuba",
    "cyprus",
    "czech republic",
    "czechia",
    "denmark",
    "djibouti",
    "dominica",
    "dominican republic",
    "ecuador",
    "egypt",
    "el salvador",
    "equatorial guinea",
    "eritrea",
    "estonia",
    "eswatini",
    "ethiopia",
    "fiji",
    "finland",
    "france",
    "gabon",
    "gambia",
    "germany",
    "ghana",
    "greece",
    "grenada",
    "greenland",
    "guatemala",
    "guinea-bissau",
    "guyana",
    "haiti",
    "honduras",
    "hungary",
    "iceland",
    "india",
    "democratic republic of the congo",
    "republic of the congo",
    "congo",
    "people's republic of china",
    "republic of china",
    "republic of korea",
    "korea",
    "saint vincent and the grenadines",
    "sao tome and principe",
    "são tomé and príncipe",
    "lao people's democratic republic",
    "syrian arab republic",
    "libyan arab jamahiriya",
    "united republic of tanzania",
    "holy see",
    "turks and caicos islands",
    "wallis and futuna",
    "saint pierre and miquelon",
    "cocos (keeling) islands",
    "british indian ocean territory",
    "united states minor outlying islands",
    "heard island and mcdonald islands",
    "south georgia and the south sandwich islands",
    "svalbard & jan mayen islands",
    "falkland islands (malvinas)",
    "palestinian territory",
    "timor-leste",
    "indonesia",
    "iran",
    "iraq",
    "ireland",
    "italy",
    "jamaica",
    "japan",
    "kazakhstan",
    "kenya",
    "kiribati",
    "north korea",
    "south korea",
    "kosovo",
    "kuwait",
    "kyrgyzstan",
    "laos",
    "latvia",
    "lebanon",
    "lesotho",
    "liberia",
    "libya",
    "liechtenstein",
    "lithuania",
    "luxembourg",
    "madagascar",
    "malawi",
    "malaysia",
    "maldives",
    "mali",
    "malta",
    "marshall islands",
    "mauritania",
    "mauritius",
    "mexico",
    "micronesia",
    "federated states of micronesia",
    "moldova",
    "monaco",
    "mongolia",
    "montenegro",
    "morocco",
    "mozambique",
    "myanmar",
    "namibia",
    "nauru",
    "nepal",
    "netherlands",
    "kingdom of the netherlands",
    "netherlands antilles",
    "new zealand",
    "nicaragua",
    "nigeria",
    "north macedonia",
    "macedonia",
    "norway",
    "oman",
    "pakistan",
    "palau",
    "palestine",
    "panama",
    "papua new guinea",
    "paraguay",
    "peru",
    "philippines",
    "poland",
    "portugal",
    "qatar",
    "romania",
    "russia",
    "russian federation",
    "rwanda",
    "saint kitts and nevis",
    "saint lucia",
    "samoa",
    "san marino",
    "saudi arabia",
    "senegal",
    "serbia",
    "seychelles",
    "sierra leone",
    "singapore",
    "slovakia",
    "slovenia",
    "solomon islands",
    "somalia",
    "south africa",
    "south sudan",
    "spain",
    "sri lanka",
    "sudan",
    "suriname",
    "sweden",
    "switzerland",
    "syria",
    "taiwan",
    "tajikistan",
    "tanzania",
    "thailand",
    "timor-leste",
    "tonga",
    "trinidad and tobago",
    "tunisia",
    "turkmenistan",
    "tuvalu",
    "uganda",
    "ukraine",
    "united arab emirates",
    "united kingdom",
    "united states",
    "uruguay",
    "uzbekistan",
    "vanuatu",
    "venezuela",
    "vietnam",
    "viet nam",
    "yemen",
    "zambia",
    "zimbabwe",
    "england",
    "scotland",
    "wales",
    "puerto rico",
];

pub(super) struct Places {
    state_zip: Regex,
    state_zip_lower: Regex,
    state_name_zip: Regex,
    zip_shape: Regex,
    city_state: Regex,
    city_state_name: Regex,
    countries: AhoCorasick,
    city_names: AhoCorasick,
}

impl Places {
    pub(super) fn build() -> Places {
        Places {
            state_zip: ascii(&format!(r"\b(?:{STATES})\.?,?\s+(\d{{5}}(?:-\d{{4}})?)\b")),
            state_zip_lower: ascii(&format!(
                r"(?i)\b[a-z]+,?\s+(?:{LOWER_STATES})\.?,?\s+(\d{{5}}(?:-\d{{4}})?)\b"
            )),
            zip_shape: ascii(r"\b\d{5}(?:-\d{4})?\b"),
            state_name_zip: ascii(&format!(
                r"(?i)\b(?:{STATE_NAMES}),?\s+(\d{{5}}(?:-\d{{4}})?)\b"
            )),
            city_state: ascii(&format!(
                r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}}),\s*(?:{STATES})\b"
            )),
            city_state_name: ascii(&format!(
                r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}}),\s*(?i:{STATE_NAMES})\b"
            )),
            countries: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(COUNTRIES)
                .unwrap_or_else(|e| panic!("country list: {e}")),
            city_names: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(CITIES.lines().filter(|l| !l.is_empty()))
                .unwrap_or_else(|e| panic!("city list: {e}")),
        }
    }

    /// ZIP codes: after a state, and bare five-digit or ZIP+4 numbers whose
    /// neighbours make them one (see [`zip_in_context`]). "zip", "postal
    /// code" and the like are the context layer's triggers.
    pub(super) fn zips(&self, text: &str, out: &mut Vec<Hit>) {
        for re in [&self.state_zip, &self.state_zip_lower, &self.state_name_zip] {
            for c in re.captures_iter(text) {
                if let Some(z) = c.get(1)
                    && number_bounded(text, z.start(), z.end())
                {
                    out.push(Hit::new(z.start(), z.end(), Kind::Zip, SCORE_ZIP));
                }
            }
        }
        let places = out.len();
        for m in self.zip_shape.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            if number_bounded(text, s, e) && zip_in_context(text, s, e, &out[..places]) {
                out.push(Hit::new(s, e, Kind::Zip, SCORE_ZIP_CONTEXT));
            }
        }
    }

    pub(super) fn cities(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        for re in [&self.city_state, &self.city_state_name] {
            for c in re.captures_iter(text) {
                let Some(city) = c.get(1) else { continue };
                // "Call me Monday, CA" or "Thanks, OK": no weekdays, and a
                // single word must not be a known non-place.
                let words: Vec<u8> = city
                    .as_str()
                    .split([' ', '-'])
                    .map(|w| lex.lookup(w))
                    .collect();
                let known_word = words.iter().any(|f| f & names::TIME != 0)
                    || (words.len() == 1 && words[0] & names::STOP != 0);
                if !known_word {
                    out.push(Hit::new(
                        city.start(),
                        city.end(),
                        Kind::Location,
                        SCORE_CITY,
                    ));
                }
            }
        }
    }

    /// Cities of 15,000 people or more, and US counties, as whole words
    /// (`data/cities.txt`; names that are also everyday words are left out).
    pub(super) fn city_list(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.city_names.find_iter(text) {
            if word_bounded(text, m.start(), m.end()) {
                out.push(Hit::new(m.start(), m.end(), Kind::Location, SCORE_CITY));
            }
        }
    }

    /// Country names, as whole words.
    pub(super) fn countries(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.countries.find_iter(text) {
            if word_bounded(text, m.start(), m.end()) {
                out.push(Hit::new(m.start(), m.end(), Kind::Location, SCORE_COUNTRY));
            }
        }
    }
}

/// Words before a bare five-digit number that make it a place: "I'm in
/// 33101", "patients from 60614", "an office near 85004".
const ZIP_BEFORE: &[&str] = &[
    "in", "near", "from", "around", "outside", "within", "serving", "serve", "covers", "cover",
    "area",
];

/// Words after a bare five-digit number that make it a place: "the 30301
/// area", "33101 zip code".
const ZIP_AFTER: &[&str] = &[
    "area",
    "zip",
    "zipcode",
    "region",
    "neighborhood",
    "neighbourhood",
];

/// Words after a number that make it a quantity, not a ZIP code: "in 10000
/// steps", "from 12000 dollars".
const QUANTITY_WORDS: &[&str] = &[
    "steps",
    "step",
    "dollars",
    "dollar",
    "usd",
    "bucks",
    "mg",
    "mcg",
    "iu",
    "units",
    "unit",
    "ml",
    "feet",
    "ft",
    "foot",
    "miles",
    "mile",
    "km",
    "meters",
    "people",
    "patients",
    "persons",
    "calories",
    "cal",
    "kcal",
    "times",
    "points",
    "views",
    "members",
    "employees",
    "words",
    "lbs",
    "pounds",
    "kg",
    "grams",
    "g",
    "cells",
    "copies",
    "per",
    "chance",
    "births",
    "cases",
    "deaths",
    "rpm",
    "hours",
    "hrs",
    "minutes",
    "seconds",
    "days",
    "years",
    "dpi",
    "mah",
    "mb",
    "gb",
];

/// Whether the ZIP-shaped number `[s, e)` ("02139", "90210-1234") reads as
/// a ZIP code from what stands around it:
///
/// - a ZIP+4 shape is one on its own;
/// - a five-digit number is one after a place preposition ("I'm in 33101",
///   "patients from 60614"), before "area" or "zip" ("the 30301 area"), or
///   next to a city, country or street already found in `places` ("Dover
///   03820", "48201 detroit").
///
/// Never when a currency sign, "#" or "no." comes before it, or a unit or
/// count word after it ("in 10000 steps", "1 in 10000 chance").
fn zip_in_context(text: &str, s: usize, e: usize, places: &[Hit]) -> bool {
    if text[..s].ends_with(['$', '#', '£', '€', '¥']) || text[e..].starts_with(['%', '$']) {
        return false;
    }
    let (after, after_at) = word_after(text, e);
    if QUANTITY_WORDS.iter().any(|w| after.eq_ignore_ascii_case(w)) {
        return false;
    }
    let (before, before_at) = word_before(text, s);
    let lower_before = before.to_ascii_lowercase();
    if matches!(
        lower_before.as_str(),
        "no" | "nr" | "number" | "room" | "rm" | "order"
    ) {
        return false;
    }
    if e - s == 10 {
        return true;
    }
    // "1 in 10000", "from 10000 to 20000": numbers compared, not places.
    let (before2, _) = word_before(text, before_at);
    let number = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    let between_numbers = number(before2)
        || (matches!(after, "to" | "-") && number(word_after(text, after_at + after.len()).0));
    if between_numbers {
        return false;
    }
    // The preposition must be a word of its own in lowercase or capitalised
    // ("In 33101"), not "IN" (Indiana, which the state patterns handle).
    let place_word = ZIP_BEFORE.contains(&lower_before.as_str()) && before != "IN";
    let area_after = ZIP_AFTER.iter().any(|w| after.eq_ignore_ascii_case(w));
    let gap_ok = |gap: &str| gap.len() <= 3 && gap.chars().all(|c| matches!(c, ' ' | ',' | '\n'));
    let next_to_place = places.iter().any(|h| {
        matches!(h.kind, Kind::Location | Kind::Address)
            && ((h.end <= s && gap_ok(&text[h.end..s]))
                || (h.start >= e && gap_ok(&text[e..h.start])))
    });
    place_word || area_after || next_to_place
}

/// The word (letters and digits) that ends before byte `i`, skipping
/// spaces and an abbreviation's full stop, and where it starts; empty when
/// other punctuation or nothing stands there.
fn word_before(text: &str, i: usize) -> (&str, usize) {
    let trimmed = text[..i].trim_end_matches(' ');
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let start = trimmed
        .char_indices()
        .rev()
        .find(|&(_, c)| !c.is_alphanumeric())
        .map_or(0, |(p, c)| p + c.len_utf8());
    (&trimmed[start..], start)
}

/// The word (letters, or digits) that starts after byte `i`, skipping
/// spaces and one comma, and where it starts.
fn word_after(text: &str, i: usize) -> (&str, usize) {
    let rest = text[i..].trim_start_matches(' ');
    let start = text.len() - rest.len();
    let Some(first) = rest.chars().next() else {
        return ("", start);
    };
    let end = if first == '-' {
        1
    } else {
        rest.find(|c: char| {
            if first.is_ascii_digit() {
                !c.is_ascii_digit()
            } else {
                !c.is_alphabetic()
            }
        })
        .unwrap_or(rest.len())
    };
    (&rest[..end], start)
}
